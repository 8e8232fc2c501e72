"""Train the byte-level BPE tokenizer (vocabulary exactly 4096 with 4 specials) on the
GSM8K training questions and answers, and write HF tokenizer.json + tokenizer_config.json.

Usage: train_tokenizer.py --train gsm8k-train.jsonl --out DIR
Ids: 0..255 bytes, 256..4091 merges (in merge order), 4092.. specials.
Deterministic: ties between equally frequent pairs are broken by the pair's strings.
"""
import argparse
import collections
import json
import os
import time

from bpe import BYTE2CHAR, pretokenize
from data import SPECIALS, clean_answer, load_jsonl

VOCAB_SIZE = 4096

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def train_bpe(texts, n_merges):
    word_freq = collections.Counter()
    for t in texts:
        word_freq.update(pretokenize(t))
    words = [[BYTE2CHAR[b] for b in w.encode("utf-8")] for w in word_freq]
    freqs = list(word_freq.values())
    pair_count = collections.Counter()
    pair_words = collections.defaultdict(set)
    for wi, syms in enumerate(words):
        for p in zip(syms, syms[1:]):
            pair_count[p] += freqs[wi]
            pair_words[p].add(wi)
    merges = []
    for _ in range(n_merges):
        if not pair_count:
            break
        best = max(pair_count.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        a, b = best
        for wi in list(pair_words.pop(best, ())):
            syms = words[wi]
            f = freqs[wi]
            for p in zip(syms, syms[1:]):
                pair_count[p] -= f
                if pair_count[p] <= 0:
                    del pair_count[p]
            new, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    new.append(a + b)
                    i += 2
                else:
                    new.append(syms[i])
                    i += 1
            words[wi] = new
            for p in zip(new, new[1:]):
                pair_count[p] += f
                pair_words[p].add(wi)
        pair_count.pop(best, None)
    return merges


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    t0 = time.time()
    rows = load_jsonl(args.train)
    texts = []
    for r in rows:
        texts.append(r["question"].strip())
        texts.append(clean_answer(r["answer"]))
    # also the chat scaffolding words ("user", "assistant", "\n") so they get merged tokens
    texts.extend(["user\n", "assistant\n"] * 1000)
    n_merges = VOCAB_SIZE - 256 - len(SPECIALS)
    merges = train_bpe(texts, n_merges)
    assert len(merges) == n_merges, len(merges)
    vocab = {BYTE2CHAR[b]: b for b in range(256)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    assert len(vocab) == VOCAB_SIZE - len(SPECIALS)
    added = [
        {"id": len(vocab) + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, s in enumerate(SPECIALS)
    ]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }
    cfg = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {str(t["id"]): {k: v for k, v in t.items() if k != "id"} for t in added},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|mask|>"],
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "mask_token": "<|mask|>",
        "errors": "replace",
        "model_max_length": 512,
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=2)
    print(f"tokenizer: {len(vocab)} + {len(SPECIALS)} specials, {len(merges)} merges, {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
