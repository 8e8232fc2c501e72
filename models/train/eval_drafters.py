"""Agreement of the drafters with the verifier's greedy continuations on the first 200 GSM8K
test questions (the JSON written by eval_verifier.py: prompt ids + greedy ids).

AR drafter: top-1 agreement, teacher-forced on the verifier's sequence (prediction for each
generated token, EOS included where the verifier stopped).

dLLM drafter, one denoising pass per sub-block, as the runtime drafts: for every sub-block
start s (s % sub == 0) inside the generated part with s + sub <= length, the input is the
verifier's sequence up to s (committed, an exact cached prefix) followed by <|mask|> up to the
end of s's block (the current and later sub-blocks masked); block-causal attention, token
shift. Agreement at offset k = argmax at position s+k-2 equals the verifier's token s+k-1.
When s starts a block, offset 1 is the AR-style prediction from the clean previous block
(the runtime's block-completion pass). Also: mean number of leading matching tokens.
--window sub_block_end: the masks stop at the end of s's sub-block (a drafter trained with
train_dllm.py --p-trunc, its config saying "denoise_window": "sub_block_end").
--window sliding: as the runtime drafts with sliding sub-blocks (FAILFAST_SLIDE_SUB_BLOCKS): a
window starts at every generated position s whose sub+1 positions s-1..s+sub-1 lie in one block
and has masks s..s+sub-1 only; the mean leading matches are also given by s % sub (0: the
grid's windows).

Usage: eval_drafters.py --verifier-out FILE [--ar CKPT] [--dllm CKPT] [--out FILE]
"""
import argparse
import json

import torch

from model import causal_mask, load_model

MASK_ID = 4095  # <|mask|>; 4094 below is <|im_end|> (ids fixed by train_tokenizer.py)


@torch.no_grad()
def ar_agreement(model, items):
    hit = n = 0
    for it in items:
        gen = it["ids"] + ([4094] if it["ended"] else [])
        seq = it["prompt_ids"] + gen
        P = len(it["prompt_ids"])
        ids = torch.tensor([seq])
        pos = torch.arange(len(seq))[None]
        logits, _ = model(ids, pos, causal_mask(pos, torch.arange(len(seq))))
        pred = logits[0, P - 1:len(seq) - 1].argmax(-1)
        hit += (pred == torch.tensor(gen)).sum().item()
        n += len(gen)
    return 100.0 * hit / n, n


@torch.no_grad()
def dllm_agreement(model, items, bd, sub, mask_id=MASK_ID, to_sub_block_end=False, sliding=False):
    hits = torch.zeros(sub)
    n_win = 0
    lead = 0
    lead_by_phase = [[0, 0] for _ in range(sub)]  # [sum, windows] by s % sub
    for it in items:
        gen = it["ids"] + ([4094] if it["ended"] else [])
        seq = it["prompt_ids"] + gen
        P = len(it["prompt_ids"])
        if sliding:
            # any start whose window stays in its block (the runtime's sliding window ends at the
            # block's end, and a window starting a block is the grid's)
            starts = [s for s in range(P + 1, len(seq) - sub + 1) if s % bd and s % bd + sub <= bd]
        else:
            starts = [s for s in range((P + sub - 1) // sub * sub, len(seq) - sub + 1, sub) if s > P]
        # s > P: the first generated token always comes from the prefill's last logit
        if not starts:
            continue
        L = max((s // bd + 1) * bd for s in starts)
        B = len(starts)
        x = torch.full((B, L), mask_id, dtype=torch.long)
        valid = torch.zeros((B, L), dtype=torch.bool)
        for b, s in enumerate(starts):
            end = (s // bd + 1) * bd
            x[b, :s] = torch.tensor(seq[:s])
            valid[b, :s + sub if to_sub_block_end or sliding else end] = True  # keys past the window do not exist
        pos = torch.arange(L)[None].expand(B, -1)
        logits, _ = model(x, pos, causal_mask(pos, torch.arange(L), valid, bd_size=bd))
        for b, s in enumerate(starts):
            pred = logits[b, s - 1:s - 1 + sub].argmax(-1)
            ok = pred == torch.tensor(seq[s:s + sub])
            hits += ok.float()
            n_win += 1
            matched = int(ok.long().cumprod(0).sum())
            lead += matched
            lead_by_phase[s % sub][0] += matched
            lead_by_phase[s % sub][1] += 1
    by_off = (100.0 * hits / n_win).tolist()
    by_phase = [round(t / n, 2) if n else None for t, n in lead_by_phase]
    return by_off, sum(by_off) / sub, lead / n_win, n_win, by_phase


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verifier-out", required=True)
    ap.add_argument("--ar", default=None)
    ap.add_argument("--dllm", default=None)
    ap.add_argument("--bd-size", type=int, default=32)
    ap.add_argument("--sub-block", type=int, default=8)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--window", choices=["block_end", "sub_block_end", "sliding"], default="block_end")
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    items = json.load(open(args.verifier_out))["items"][:args.limit]
    res = {"questions": len(items)}
    if args.ar:
        m, ck = load_model(args.ar)
        m.eval()
        acc, n = ar_agreement(m, items)
        res["ar_drafter"] = {"checkpoint": args.ar, "top1_agreement_pct": round(acc, 1), "tokens": n}
    if args.dllm:
        m, ck = load_model(args.dllm)
        m.eval()
        by_off, mean, lead, n_win, by_phase = dllm_agreement(m, items, args.bd_size, args.sub_block,
                                                   to_sub_block_end=args.window == "sub_block_end",
                                                   sliding=args.window == "sliding")
        res["dllm_drafter"] = {"checkpoint": args.dllm, "agreement_by_offset_pct": [round(v, 1) for v in by_off],
                               "mean_agreement_pct": round(mean, 1), "mean_leading_matches": round(lead, 2),
                               "windows": n_win, "sub_block": args.sub_block, "bd_size": args.bd_size,
                               "denoise_window": args.window, "mean_leading_matches_by_start_phase": by_phase}
    print(json.dumps(res), flush=True)
    if args.out:
        json.dump(res, open(args.out, "w"), indent=2)


if __name__ == "__main__":
    main()
