"""Evaluate an AR checkpoint on the first N GSM8K test questions: test loss on the gold
answers, and greedy answers (max 256 new tokens): share ending "#### <number>", share that
loop to the cap (no EOS within 256 tokens), share with the correct number.

Writes the greedy continuations (token ids) to --out; the drafter evals compare against them.
Usage: eval_verifier.py --ckpt CKPT --tok DIR --test gsm8k-test.jsonl --out FILE [--n 200]
"""
import argparse
import json
import time

from data import final_number, load_jsonl, numbers_equal, prompt_text
from dataset import load_examples
from generate import greedy_many, load_for_generation
from train_ar import eval_loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tok", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--max-new", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    tok, model, ck, eos, pad = load_for_generation(args.ckpt, args.tok, args.threads)
    rows = load_jsonl(args.test, args.n)
    t0 = time.time()
    test_loss = eval_loss(model, load_examples(tok, [f"gold:{args.test}:{args.n}"]), pad)
    prompts = [tok.encode(prompt_text(r["question"])) for r in rows]
    t1 = time.time()
    res = greedy_many(model, prompts, args.max_new, eos, pad)
    gen_secs = time.time() - t1
    n_fmt = n_loop = n_ok = 0
    items = []
    for r, p, (ids, ended) in zip(rows, prompts, res):
        text = tok.decode(ids)
        num = final_number(text) if ended else None
        gold = final_number(r["answer"])
        n_fmt += num is not None
        n_loop += not ended
        n_ok += numbers_equal(num, gold)
        items.append({"prompt_ids": p, "ids": ids, "ended": ended, "text": text, "pred": num, "gold": gold})
    n = len(rows)
    n_tok = sum(len(i["ids"]) for i in items)
    summary = {
        "checkpoint": args.ckpt, "step": ck.get("step"), "questions": n,
        "test_loss": round(test_loss, 4),
        "format_pct": round(100 * n_fmt / n, 1), "loop_pct": round(100 * n_loop / n, 1),
        "correct_pct": round(100 * n_ok / n, 1),
        "generated_tokens": n_tok, "gen_tokens_per_s": round(n_tok / gen_secs, 1),
        "secs": round(time.time() - t0, 1),
    }
    print(json.dumps(summary), flush=True)
    with open(args.out, "w") as f:
        json.dump({"summary": summary, "items": items}, f)


if __name__ == "__main__":
    main()
