"""Batched greedy decoding with a KV cache (PyTorch), used by the evals and the distillation.

Prompts are left-padded; each row keeps its own positions (first real token = position 0),
padding keys are masked out. Rows that emit EOS are dropped from the batch (their KV cache
rows are removed), so the batch only ever computes live rows.
"""
import torch

from model import causal_mask


@torch.no_grad()
def greedy_batch(model, prompts, max_new, eos_id, pad_id):
    """prompts: list of id lists. Returns list of (new_ids without EOS, ended_with_eos)."""
    B = len(prompts)
    P = max(len(p) for p in prompts)
    ids = torch.full((B, P), pad_id, dtype=torch.long)
    kpos = torch.full((B, P), -1, dtype=torch.long)
    for b, p in enumerate(prompts):
        ids[b, P - len(p):] = torch.tensor(p)
        kpos[b, P - len(p):] = torch.arange(len(p))
    valid = kpos >= 0
    qpos = kpos.clamp(min=0)
    logits, past = model(ids, qpos, causal_mask(qpos, kpos, valid))
    nxt = logits[:, -1].argmax(-1)
    cur = torch.tensor([len(p) for p in prompts])
    rows = torch.arange(B)  # original row index of each live row
    out = [[] for _ in range(B)]
    done = [False] * B
    for step in range(max_new):
        fin = nxt == eos_id
        for r, t, f in zip(rows.tolist(), nxt.tolist(), fin.tolist()):
            if f:
                done[r] = True
            else:
                out[r].append(t)
        if step == max_new - 1:
            break
        if fin.any():
            keep = (~fin).nonzero().flatten()
            if keep.numel() == 0:
                break
            rows, nxt, cur, kpos, valid = rows[keep], nxt[keep], cur[keep], kpos[keep], valid[keep]
            past = [(k[keep], v[keep]) for k, v in past]
        kpos = torch.cat([kpos, cur[:, None]], 1)
        valid = torch.cat([valid, torch.ones_like(cur[:, None], dtype=torch.bool)], 1)
        logits, past = model(nxt[:, None], cur[:, None], causal_mask(cur[:, None], kpos, valid), past)
        nxt = logits[:, -1].argmax(-1)
        cur = cur + 1
    return [(o, d) for o, d in zip(out, done)]


def greedy_many(model, prompts, max_new, eos_id, pad_id, batch_size=64, callback=None):
    """Length-sorted batches; callback(indices, results) after each batch (for streaming output)."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results = [None] * len(prompts)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        res = greedy_batch(model, [prompts[i] for i in idx], max_new, eos_id, pad_id)
        for i, r in zip(idx, res):
            results[i] = r
        if callback:
            callback(idx, res)
    return results
