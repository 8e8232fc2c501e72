"""The verifier's next-token distributions over a distillation set, for soft-target training of
the dLLM drafter (train_dllm.py --teacher).

The sequence-level set (distill.py) gives the drafter only the verifier's greedy token at each
position; the verifier's whole distribution there says also which other tokens it found likely,
a richer signal per token for a drafter too small to learn much more from more answers. For every
example that load_examples() yields for the same --data specs, in the same order, and every answer
position j (the rows that predict tokens p .. len-1 from the clean prefix), this keeps the top-K
token ids and their log-probabilities (measured on 370 distilled answers: the verifier's top-1
holds 52% of the mass on average, the top 16 83%, median 92%; the rest is dropped and the K are
renormalised when training).

Work is cut into shards of --shard examples, each written when done (rerunning skips finished
shards), then joined into OUT: {"offsets" [N+1] int64, "ids" [R,K] int16, "logp" [R,K] float16,
"lengths" [N] int64 (each example's length, checked by the trainer), "k", "data"}.

Usage: teacher_logits.py --ckpt VERIFIER.final.pt --tok DIR --data distill:FILE ... --out FILE.pt
"""
import argparse
import glob
import os
import time

import torch

from bpe import BPETokenizer
from data import ENDOFTEXT
from dataset import load_examples
from model import causal_mask, load_model


@torch.no_grad()
def shard_rows(model, examples, idxs, pad_id, k, budget):
    """Top-k of the verifier's log-softmax at every answer position of examples[idxs], in idxs order."""
    order = sorted(idxs, key=lambda i: len(examples[i][0]))
    out = {}
    s = 0
    while s < len(order):
        e = s
        while e < len(order) and len(examples[order[e]][0]) * (e - s + 1) <= budget:
            e += 1
        e = max(e, s + 1)
        batch = order[s:e]
        L = max(len(examples[i][0]) for i in batch)
        ids = torch.full((len(batch), L), pad_id, dtype=torch.long)
        for b, i in enumerate(batch):
            ids[b, :len(examples[i][0])] = torch.tensor(examples[i][0])
        pos = torch.arange(L)[None].expand(len(batch), -1)
        hidden, _ = model(ids, pos, causal_mask(pos, torch.arange(L)), return_hidden=True)
        for b, i in enumerate(batch):
            seq, p = examples[i]
            h = hidden[b, p - 1:len(seq) - 1]  # position j predicts token j+1, for answer tokens p..len-1
            logp = torch.log_softmax(torch.nn.functional.linear(h, model.embed.weight), -1)
            top = logp.topk(k, -1)
            out[i] = (top.indices.to(torch.int16), top.values.to(torch.float16))
        s = e
    return [out[i] for i in idxs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True, help="verifier checkpoint")
    ap.add_argument("--tok", required=True)
    ap.add_argument("--data", nargs="+", required=True, help="the same specs the drafter trains on, same order")
    ap.add_argument("--out", required=True)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--shard", type=int, default=2000)
    ap.add_argument("--budget", type=int, default=8192, help="padded tokens per forward")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = BPETokenizer.from_file(os.path.join(args.tok, "tokenizer.json"))
    examples = load_examples(tok, args.data)
    model, _ = load_model(args.ckpt)
    model.eval()
    pad_id = tok.specials[ENDOFTEXT]
    n = len(examples)
    shards = [list(range(s, min(n, s + args.shard))) for s in range(0, n, args.shard)]
    print(f"{n} examples, {sum(len(e[0]) - e[1] for e in examples)} answer rows, {len(shards)} shards", flush=True)
    part = args.out + ".part{:03d}.pt"
    t0 = time.time()
    for si, idxs in enumerate(shards):
        if os.path.exists(part.format(si)):
            continue
        rows = shard_rows(model, examples, idxs, pad_id, args.k, args.budget)
        torch.save(rows, part.format(si) + ".tmp")
        os.replace(part.format(si) + ".tmp", part.format(si))
        print(f"shard {si + 1}/{len(shards)} done, {(time.time() - t0) / 60:.1f} min", flush=True)
    rows = [r for si in range(len(shards)) for r in torch.load(part.format(si))]
    counts = torch.tensor([r[0].shape[0] for r in rows])
    offsets = torch.zeros(n + 1, dtype=torch.long)
    offsets[1:] = counts.cumsum(0)
    torch.save({"offsets": offsets, "ids": torch.cat([r[0] for r in rows]), "logp": torch.cat([r[1] for r in rows]),
                "lengths": torch.tensor([len(e[0]) for e in examples]), "k": args.k, "data": args.data},
               args.out + ".tmp")
    os.replace(args.out + ".tmp", args.out)
    for f in glob.glob(args.out + ".part*.pt"):
        os.remove(f)
    print(f"wrote {args.out}: {int(offsets[-1])} rows x {args.k}", flush=True)


if __name__ == "__main__":
    main()
