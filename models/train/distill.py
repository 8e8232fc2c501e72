"""Sequence-level distillation set: the verifier's own greedy answers to GSM8K training
questions, so the drafters learn to say what the verifier says.

Questions are taken in a seeded random order, in chunks; each chunk is decoded with batched
greedy decoding (KV cache, finished rows dropped) and appended to the output JSONL at once,
so the run can stop at --minutes and resume where it stopped. Rows keep the exact token ids
(re-encoding the decoded text could give different ids) and whether EOS was reached.

Usage: distill.py --ckpt VERIFIER.final.pt --tok DIR --train gsm8k-train.jsonl --out FILE.jsonl
                  [--minutes 20] [--batch 64] [--max-new 256]
"""
import argparse
import json
import os
import random
import time

from data import load_jsonl, prompt_text
from generate import greedy_many, load_for_generation


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tok", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--max-new", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    tok, model, _, eos, pad = load_for_generation(args.ckpt, args.tok, args.threads)
    rows = load_jsonl(args.train)
    order = list(range(len(rows)))
    random.Random(args.seed).shuffle(order)
    done = set()
    if os.path.exists(args.out):
        with open(args.out) as f:
            done = {json.loads(l)["index"] for l in f if l.strip()}
    todo = [i for i in order if i not in done]
    print(f"{len(done)} already done, {len(todo)} to go, budget {args.minutes} min", flush=True)
    t0 = time.time()
    n_tok = n_q = n_loop = 0
    with open(args.out, "a") as f:
        for s in range(0, len(todo), args.chunk):
            if time.time() - t0 > args.minutes * 60:
                break
            idx = todo[s:s + args.chunk]
            prompts = [tok.encode(prompt_text(rows[i]["question"])) for i in idx]
            res = greedy_many(model, prompts, args.max_new, eos, pad, args.batch)
            for i, (ids, ended) in zip(idx, res):
                f.write(json.dumps({"index": i, "question": rows[i]["question"], "answer": tok.decode(ids),
                                    "ids": ids, "ended": ended}) + "\n")
                n_tok += len(ids)
                n_loop += not ended
            f.flush()
            n_q += len(idx)
            dt = time.time() - t0
            print(f"{len(done) + n_q} questions, {n_tok / dt:.0f} tokens/s, {n_loop} hit the cap, {dt / 60:.1f} min",
                  flush=True)
    print(f"done: {n_q} new questions, {n_tok} tokens in {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
