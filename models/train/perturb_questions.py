"""More distillation prompts: GSM8K training questions with their numbers replaced.

The drafters learn to say what the verifier says; with only the 7,473 training questions they
partly memorise the verifier's answers to those questions (third generation: 43% agreement on
training questions, 37% on test ones). The same questions with other numbers give new answers
the drafter cannot recall, only predict: it must copy numbers from the question and follow the
verifier's phrasing. The verifier's greedy answers to them (distill.py) are as much the
verifier's own as any other; whether its arithmetic is right does not matter here.

Each number is replaced by a seeded random one of the same shape: small counts (2-12) stay
small, larger integers keep their digit count and trailing zeros, decimals their places,
percentages stay multiples of 5 under 100; 0, 1, years and clock times are kept. The same
number gets the same replacement everywhere in its question.

Usage: perturb_questions.py --train gsm8k-train.jsonl --out FILE.jsonl [--copies 2] [--seed 7]
(rows: {"question": ...}; FILE must be outside the repository, like the data it derives from)
"""
import argparse
import json
import os
import random
import re

from data import load_jsonl

# A number with optional thousands separators and decimals; not part of a word or a clock time.
NUMBER = re.compile(r"(?<![\w:.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w:]|\.\d)(\s*(?:%|percent))?")


def replacement(whole, frac, percent, rng):
    value = int(whole.replace(",", ""))
    if percent:
        return f"{rng.randrange(1, 20) * 5}{percent}"
    if frac:
        places = len(frac) - 1
        digits = len(str(value))
        whole_part = rng.randint(10 ** (digits - 1) if value else 0, 10 ** digits - 1)
        return f"{whole_part}.{rng.randrange(1, 10 ** places):0{places}d}"
    if value in (0, 1) or 1900 <= value <= 2099:
        return whole
    if value <= 12:
        return str(rng.randint(2, 12))
    digits = str(value)
    zeros = len(digits) - len(digits.rstrip("0"))
    head = len(digits) - zeros
    new = rng.randint(10 ** (head - 1), 10 ** head - 1) * 10 ** zeros
    return f"{new:,}" if "," in whole else str(new)


def perturb(question, rng):
    chosen = {}

    def sub(m):
        key = m.group(0)
        if key not in chosen:
            chosen[key] = replacement(m.group(1), m.group(2), m.group(3), rng)
        return chosen[key]

    return NUMBER.sub(sub, question)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rows = load_jsonl(args.train)
    rng = random.Random(args.seed)
    n = changed = 0
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        for _ in range(args.copies):
            for r in rows:
                q = perturb(r["question"], rng)
                changed += q != r["question"]
                n += 1
                f.write(json.dumps({"question": q}) + "\n")
    os.replace(args.out + ".tmp", args.out)
    print(f"{n} questions written to {args.out}, {changed} with changed numbers")


if __name__ == "__main__":
    main()
