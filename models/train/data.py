"""GSM8K loading and ChatML formatting shared by every training / eval script.

The data files are read from a path given on the command line (they live in
../shared/data and must never be copied into the repository).
"""
import json
import re

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
ENDOFTEXT = "<|endoftext|>"
MASK = "<|mask|>"
SPECIALS = [ENDOFTEXT, IM_START, IM_END, MASK]

_CALC = re.compile(r"<<[^>]*>>")
# The final line of every GSM8K answer: "#### <number>"; the generation evals use the same pattern.
FINAL_RE = re.compile(r"####\s*(-?[\d,]*\.?\d+)\s*$")


def load_jsonl(path, limit=None):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def clean_answer(answer):
    """Remove the <<a*b=c>> calculator annotations (the model must do the arithmetic in text)."""
    return _CALC.sub("", answer).strip()


def prompt_text(question):
    """ChatML prompt exactly as tokenizer_config.json's chat_template renders it
    (one user turn, add_generation_prompt=True, no system turn)."""
    return f"{IM_START}user\n{question.strip()}{IM_END}\n{IM_START}assistant\n"


def final_number(text):
    m = FINAL_RE.search(text.strip())
    if not m:
        return None
    return m.group(1).replace(",", "")


def numbers_equal(a, b):
    if a is None or b is None:
        return False
    try:
        return abs(float(a) - float(b)) < 1e-6
    except ValueError:
        return a == b
