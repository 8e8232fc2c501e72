"""Tokenised training examples and length-bucketed batches.

An example is prompt ids (ChatML, loss-free) followed by answer ids + <|im_end|> (trained).
Batches are built for all epochs up front from the seed, so the step count (and the cosine
schedule) is known before training starts and a resumed run sees the same batches.
"""
import random

import torch

from data import IM_END, clean_answer, load_jsonl, prompt_text


def encode_example(tok, question, answer, max_len=512):
    p = tok.encode(prompt_text(question))
    a = tok.encode(answer) + [tok.specials[IM_END]]
    ids = (p + a)[:max_len]
    return ids, len(p)


def load_examples(tok, specs, max_len=512):
    """specs: list of "gold:PATH[:N]" (GSM8K rows, answers cleaned) or "distill:PATH[:N]"
    (rows written by distill.py: question + the verifier's greedy answer ids)."""
    out = []
    for spec in specs:
        kind, path, *rest = spec.split(":")
        n = int(rest[0]) if rest else None
        for r in load_jsonl(path, n):
            if kind == "gold":
                out.append(encode_example(tok, r["question"], clean_answer(r["answer"]), max_len))
            elif kind == "distill":
                # the verifier's exact greedy ids; answers that hit the length cap are skipped
                if r["ended"]:
                    p = tok.encode(prompt_text(r["question"]))
                    out.append(((p + r["ids"] + [tok.specials[IM_END]])[:max_len], len(p)))
            else:
                raise ValueError(spec)
    return out


def make_batches(lengths, token_budget, epochs, seed, max_batch=64, pool=64):
    """Per epoch: shuffle, cut into pools of `pool` x typical batch, sort each pool by length,
    cut pools into batches of at most token_budget padded tokens, shuffle batch order."""
    rng = random.Random(seed)
    all_batches = []
    for _ in range(int(epochs + 0.999)):
        idx = list(range(len(lengths)))
        rng.shuffle(idx)
        batches = []
        step = pool * 16
        for s in range(0, len(idx), step):
            chunk = sorted(idx[s:s + step], key=lambda i: lengths[i])
            cur = []
            for i in chunk:
                mx = max([lengths[j] for j in cur] + [lengths[i]])
                if cur and (mx * (len(cur) + 1) > token_budget or len(cur) >= max_batch):
                    batches.append(cur)
                    cur = []
                cur.append(i)
            if cur:
                batches.append(cur)
        rng.shuffle(batches)
        all_batches.append(batches)
    flat = [b for ep in all_batches for b in ep]
    n = int(round(epochs * len(all_batches[0])))
    return flat[:n]


def collate(examples, idxs, pad_id):
    """-> input_ids [B,L], labels [B,L] (-100 outside the answer; label at i is token i+1),
    valid [B,L] bool."""
    L = max(len(examples[i][0]) for i in idxs)
    B = len(idxs)
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    labels = torch.full((B, L), -100, dtype=torch.long)
    valid = torch.zeros((B, L), dtype=torch.bool)
    for b, i in enumerate(idxs):
        seq, p = examples[i]
        t = torch.tensor(seq)
        ids[b, :len(seq)] = t
        valid[b, :len(seq)] = True
        # position j predicts token j+1; train on answer tokens (positions p..len-1)
        labels[b, p - 1:len(seq) - 1] = t[p:]
    return ids, labels, valid
