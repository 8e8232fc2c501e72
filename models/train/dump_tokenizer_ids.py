"""Dump the Python tokenizer's ids for GSM8K test questions (as ChatML prompts) and answers,
for tokenizer_ids_check.mjs and as the small fixture the TypeScript tests compare against.

Usage: dump_tokenizer_ids.py --tok DIR --test gsm8k-test.jsonl --out FILE [--n 200] [--all-answers]
"""
import argparse
import json

from bpe import BPETokenizer
from data import clean_answer, load_jsonl, prompt_text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tok", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=200, help="questions to dump (0 = all)")
    ap.add_argument("--with-answers", action="store_true", help="also dump the cleaned answers")
    args = ap.parse_args()
    tok = BPETokenizer.from_file(f"{args.tok}/tokenizer.json")
    rows = load_jsonl(args.test, args.n or None)
    cases = []
    for r in rows:
        q = prompt_text(r["question"])
        cases.append({"text": q, "ids": tok.encode(q)})
        if args.with_answers:
            a = clean_answer(r["answer"]) + "<|im_end|>"
            cases.append({"text": a, "ids": tok.encode(a)})
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"source": "first %d GSM8K test questions, ChatML prompt" % len(rows), "cases": cases}, f,
                  ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {len(cases)} cases to {args.out}")


if __name__ == "__main__":
    main()
