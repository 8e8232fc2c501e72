"""Batched greedy decoding with a KV cache (PyTorch), used by the evals and the distillation.

Prompts are left-padded; each row keeps its own positions (first real token = position 0),
padding keys are masked out. The KV cache is preallocated (StaticCache) and written in place.
Rows that emit EOS stop producing output; they are dropped from the batch (one copy of the
cache) once a quarter of the rows have finished, so the batch mostly computes live rows
without copying the cache at every finish.
"""
import torch

from bpe import BPETokenizer
from data import ENDOFTEXT, IM_END
from model import StaticCache, causal_mask, load_model


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
    cache = StaticCache(model.c, B, P + max_new)
    logits, _ = model(ids, qpos, causal_mask(qpos, kpos, valid), cache=cache)
    nxt = logits[:, -1].argmax(-1)
    cur = torch.tensor([len(p) for p in prompts])
    rows = torch.arange(B)  # original row index of each batch row
    live = torch.ones(B, dtype=torch.bool)  # rows still generating
    out = [[] for _ in range(B)]
    done = [False] * B
    for step in range(max_new):
        fin = live & (nxt == eos_id)
        for r, t, f, a in zip(rows.tolist(), nxt.tolist(), fin.tolist(), live.tolist()):
            if f:
                done[r] = True
            elif a:
                out[r].append(t)
        live = live & ~fin
        if step == max_new - 1 or not live.any():
            break
        if (~live).sum() * 4 >= live.numel():
            keep = live.nonzero().flatten()
            rows, nxt, cur, kpos, valid, live = rows[keep], nxt[keep], cur[keep], kpos[keep], valid[keep], live[keep]
            cache.keep_rows(keep)
        kpos = torch.cat([kpos, cur[:, None]], 1)
        valid = torch.cat([valid, torch.ones_like(cur[:, None], dtype=torch.bool)], 1)
        logits, _ = model(nxt[:, None], cur[:, None], causal_mask(cur[:, None], kpos, valid), cache=cache)
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


def load_for_generation(ckpt, tok_dir, threads):
    """Tokenizer, model in eval mode, its checkpoint dict, and the EOS and padding ids."""
    torch.set_num_threads(threads)
    tok = BPETokenizer.from_file(f"{tok_dir}/tokenizer.json")
    model, ck = load_model(ckpt)
    model.eval()
    return tok, model, ck, tok.specials[IM_END], tok.specials[ENDOFTEXT]
