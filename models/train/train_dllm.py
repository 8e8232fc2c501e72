"""Block-diffusion training of the dLLM drafter (Fast-dLLM v2 recipe, FAILFAST.md section 2),
starting from the AR drafter's weights (as Fast-dLLM v2 starts from Qwen2.5).

Each training sequence (prompt + the verifier's answer + <|im_end|>) is fed twice, as one
sequence of length 2L: a noisy copy (some answer tokens replaced by <|mask|>) followed by the
clean copy, with the same positions. Attention:
  noisy query in block b -> noisy keys of block b (bidirectional) + clean keys of blocks < b
  clean query in block b -> clean keys of blocks <= b (block-causal, as the KV cache at inference)
so one forward trains every block against a clean prefix, exactly the inference situation.
Token shift: the output at position i-1 predicts token i. Loss on every masked position
(noisy stream) and, AR-style, on each block's first token from the last position of the clean
previous block (the "block completion" pass of the runtime).

Noise per block, one of three kinds (shares set by --p-iid and --p-subblock):
  i.i.d.: mask each answer token with p = (1 - eps) t + eps, t ~ U(0,1);
  sub-block suffix: mask positions >= c inside the block, c a sub-block start (1, 8, 16, 24):
    exactly what a FailFast denoising pass sees (low unmask threshold: one pass per sub-block);
  uniform suffix: the same with c uniform in the block.
--p-trunc q: a suffix-masked block is, with probability q, cut after the sub-block of its first
mask (its later noisy keys hidden, their positions out of the loss): the window a runtime feeds
when its config.json says "denoise_window": "sub_block_end" (fewer rows per pass, and nothing
of the later sub-blocks to see but masks anyway).
--offset-decay g < 1 weights a suffix-masked position's loss by g^(its distance from the first
mask of its block): a draft is accepted up to its first miss, so the first masked positions
decide the accepted length and the far ones hardly matter.
--teacher FILE (teacher_logits.py over the same --data) --kd-alpha a: soft-target distillation;
every labelled position (noisy or clean stream, both predicting answer token j+1 after position
j) also learns the verifier's top-k distribution at j given the clean prefix, weight a against
the greedy token's CE. At the first masked offset that is exactly the distribution a one-pass
draft should match; at later offsets it conditions on tokens the drafter cannot see, so it acts
as a hint of the alternatives rather than a target (the hard label stays the greedy token).
Usage: train_dllm.py --name drafter --init AR_DRAFTER.final.pt --tok DIR --data distill:FILE ...
"""
import argparse
import os
import time

import torch

from bpe import BPETokenizer
from data import ENDOFTEXT, MASK
from dataset import load_examples, make_batches
from model import NEG, load_model, save_checkpoint
from training import Schedule, adamw, add_run_args, lr_at, optimise, restore, start_run, tied_head_loss

EPS = 1e-3


def build_batch(examples, idxs, pad_id, mask_id, bd, sub, gen, p_iid=0.5, p_sub=0.25, decay=1.0, p_trunc=0.0,
                teacher_offsets=None):
    """-> x, pos, mask, labels, weights [B,2L] and, with teacher_offsets (teacher_logits.py's
    "offsets"), the teacher row of each stream position's label (-1 where none), else None."""
    B = len(idxs)
    L = max(len(examples[i][0]) for i in idxs)
    L = (L + bd - 1) // bd * bd
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    valid = torch.zeros((B, L), dtype=torch.bool)
    ans = torch.zeros((B, L), dtype=torch.bool)
    for b, i in enumerate(idxs):
        seq, p = examples[i]
        ids[b, :len(seq)] = torch.tensor(seq)
        valid[b, :len(seq)] = True
        ans[b, p:len(seq)] = True
    nb = L // bd
    inblk = torch.arange(L) % bd  # offset inside the block
    # i.i.d. noise
    t = torch.rand(B, nb, 1, generator=gen)
    p = ((1 - EPS) * t + EPS).expand(B, nb, bd).reshape(B, L)
    iid = torch.rand(B, L, generator=gen) < p
    # clean-prefix / masked-suffix noise
    starts = torch.tensor([1] + list(range(sub, bd, sub)))
    c_sub = starts[torch.randint(0, len(starts), (B, nb), generator=gen)]
    c_uni = torch.randint(0, bd, (B, nb), generator=gen)
    kind = torch.rand(B, nb, generator=gen)  # [0, p_iid): i.i.d.; then sub-block; then uniform
    c = torch.where(kind < p_iid + p_sub, c_sub, c_uni)
    suffix = inblk[None] >= c.repeat_interleave(bd, 1)
    use_iid = (kind < p_iid).repeat_interleave(bd, 1)
    m = torch.where(use_iid, iid, suffix) & ans
    noisy = torch.where(m, torch.full_like(ids, mask_id), ids)
    # truncated windows: noisy positions past the end of the first mask's sub-block are hidden
    # (no draw when off: earlier generations' noise streams stay reproducible)
    if p_trunc > 0:
        cut = (kind >= p_iid) & (torch.rand(B, nb, generator=gen) < p_trunc)
    else:
        cut = torch.zeros((B, nb), dtype=torch.bool)
    end = torch.where(cut, (c // sub + 1) * sub, torch.full_like(c, bd))
    hidden = inblk[None] >= end.repeat_interleave(bd, 1)
    x = torch.cat([noisy, ids], 1)
    pos1 = torch.arange(L)
    pos = torch.cat([pos1, pos1])[None].expand(B, -1)
    blk = torch.cat([pos1, pos1]) // bd
    clean = torch.cat([torch.zeros(L, dtype=torch.bool), torch.ones(L, dtype=torch.bool)])
    bq, bk = blk[:, None], blk[None, :]
    cq, ck = clean[:, None], clean[None, :]
    allowed = ((~cq) & (~ck) & (bk == bq)) | ((~cq) & ck & (bk < bq)) | (cq & ck & (bk <= bq))
    key_valid = torch.cat([valid & ~hidden, valid], 1)
    mask = torch.where(allowed[None] & key_valid[:, None, :], 0.0, NEG)[:, None]
    # labels (token shift): noisy j predicts masked j+1; clean block end j predicts block start j+1
    labels = torch.full((B, 2 * L), -100, dtype=torch.long)
    nxt = ids[:, 1:]
    labels[:, :L - 1] = torch.where(m[:, 1:] & ~hidden[:, 1:], nxt, torch.full_like(nxt, -100))
    blk_start = (inblk[1:] == 0)[None] & ans[:, 1:]
    labels[:, L:2 * L - 1] = torch.where(blk_start, nxt, torch.full_like(nxt, -100))
    # loss weights: g^(distance from the block's first mask) on suffix-masked positions, 1 elsewhere
    dist = (inblk[None] - c.repeat_interleave(bd, 1)).clamp(min=0).float()
    w_noisy = torch.where(use_iid, torch.ones_like(dist), decay ** dist)
    weights = torch.ones((B, 2 * L))
    weights[:, :L - 1] = w_noisy[:, 1:]
    rows = None
    if teacher_offsets is not None:
        # position j predicts token j+1; answer token t (p <= t < len) is teacher row offsets[i] + t - p
        rows1 = torch.full((B, L), -1, dtype=torch.long)
        for b, i in enumerate(idxs):
            seq, p = examples[i]
            rows1[b, p - 1:len(seq) - 1] = int(teacher_offsets[i]) + torch.arange(len(seq) - p)
        rows = torch.cat([rows1, rows1], 1)
    return x, pos, mask, labels, weights, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--init", required=True, help="AR drafter checkpoint")
    ap.add_argument("--tok", required=True)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--bd-size", type=int, default=32)
    ap.add_argument("--sub-block", type=int, default=8)
    ap.add_argument("--epochs", type=float, default=4.0)
    ap.add_argument("--budget", type=int, default=4096, help="padded tokens per batch (counted once, not 2x)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--seed", type=int, default=4321)
    add_run_args(ap)
    ap.add_argument("--p-iid", type=float, default=0.5, help="share of blocks with i.i.d. masks")
    ap.add_argument("--p-subblock", type=float, default=0.25,
                    help="share of blocks masked from a sub-block start to the block end")
    ap.add_argument("--offset-decay", type=float, default=1.0,
                    help="loss weight g^d for a suffix-masked position d after its block's first mask (1: uniform)")
    ap.add_argument("--p-trunc", type=float, default=0.0,
                    help="share of suffix-masked blocks cut after the first mask's sub-block")
    ap.add_argument("--teacher", default=None, help="teacher_logits.py output over the same --data")
    ap.add_argument("--kd-alpha", type=float, default=0.5, help="weight of the teacher's soft targets")
    args = ap.parse_args()
    ck_path, final_path = start_run(args)
    tok = BPETokenizer.from_file(os.path.join(args.tok, "tokenizer.json"))
    pad_id, mask_id = tok.specials[ENDOFTEXT], tok.specials[MASK]
    examples = load_examples(tok, args.data)
    lengths = [len(e[0]) for e in examples]
    teacher = None
    if args.teacher:
        teacher = torch.load(args.teacher)
        if teacher["lengths"].tolist() != lengths:
            raise SystemExit(f"{args.teacher} was computed over other data than --data {args.data}")
        print(f"soft targets: {args.teacher}, top-{teacher['k']}, alpha {args.kd_alpha}", flush=True)
    batches = make_batches(lengths, args.budget, args.epochs, args.seed)
    sched = Schedule(len(batches), args.end_time, args.max_steps)
    print(f"{len(examples)} examples, {sum(lengths)} tokens, {len(batches)} steps for {args.epochs} epochs", flush=True)
    model, _ = load_model(args.init)
    opt = adamw(model, args.lr, args.wd)
    gen = torch.Generator().manual_seed(args.seed)
    step, tokens_seen, train_secs = 0, 0, 0.0
    ck = restore(ck_path, model, opt)
    if ck:
        step, tokens_seen, train_secs = ck["step"], ck["tokens_seen"], ck["train_secs"]
        gen.set_state(ck["gen"])
    else:
        print(f"initialised from {args.init}", flush=True)
    model.train()
    last_ck = time.time()
    t_log, loss_acc, n_acc = time.time(), 0.0, 0
    while step < sched.end:
        t0 = time.time()
        x, pos, mask, labels, weights, rows = build_batch(
            examples, batches[step], pad_id, mask_id, args.bd_size, args.sub_block, gen, args.p_iid, args.p_subblock,
            args.offset_decay, args.p_trunc, teacher["offsets"] if teacher else None)
        hidden, _ = model(x, pos, mask, return_hidden=True)
        soft = (rows, teacher["ids"], teacher["logp"], args.kd_alpha) if teacher else None
        loss = tied_head_loss(model, hidden, labels, weights if args.offset_decay < 1 else None, soft)
        optimise(model, opt, loss, lr_at(step, sched.total, args.lr, args.warmup))
        step += 1
        tokens_seen += sum(len(examples[i][0]) for i in batches[step - 1])
        train_secs += time.time() - t0
        sched.after_step(step, time.time() - t0)
        loss_acc += loss.item()
        n_acc += 1
        if step % 10 == 0 or step == sched.end:
            print(f"step {step}/{sched.total} loss {loss_acc / n_acc:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"{(time.time() - t_log) / n_acc:.2f} s/step elapsed {train_secs / 60:.1f} min", flush=True)
            t_log, loss_acc, n_acc = time.time(), 0.0, 0
        if time.time() - last_ck > args.ckpt_minutes * 60 or step == sched.end:
            save_checkpoint(ck_path, model, {"opt": opt.state_dict(), "step": step, "tokens_seen": tokens_seen,
                                             "train_secs": train_secs, "gen": gen.get_state(), "total_steps": sched.total,
                                             "bd_size": args.bd_size})
            print(f"checkpoint step {step}", flush=True)
            last_ck = time.time()
    if step >= sched.total:
        save_checkpoint(final_path, model, {"step": step, "tokens_seen": tokens_seen, "train_secs": train_secs,
                                            "total_steps": sched.total, "bd_size": args.bd_size, "args": vars(args)})
        print(f"done: {step} steps, {tokens_seen} tokens, {train_secs / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
