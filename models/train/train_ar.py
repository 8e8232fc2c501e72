"""Train a causal (AR) model: the verifier on gold GSM8K answers, or the AR drafter on the
verifier's distilled answers. Plain CE on the assistant tokens (no label smoothing, no
dropout: both made greedy answers loop more in trials), AdamW, warmup + cosine LR.

Checkpoints every --ckpt-minutes to CKPT_DIR/NAME.pt and resumes from it; the final model is
CKPT_DIR/NAME.final.pt. Logs to stdout (run under nohup, redirect to a log file).
"""
import argparse
import math
import os
import random
import time

import torch
import torch.nn.functional as F

from bpe import BPETokenizer
from dataset import collate, load_examples, make_batches
from data import ENDOFTEXT
from model import Decoder, ModelConfig, causal_mask, load_model, save_checkpoint


def lr_at(step, total, peak, warmup, floor=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    f = (step - warmup) / max(1, total - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, f))))


@torch.no_grad()
def eval_loss(model, examples, pad_id, budget=8192):
    model.eval()
    tot, n = 0.0, 0
    lengths = [len(e[0]) for e in examples]
    order = sorted(range(len(examples)), key=lambda i: lengths[i])
    cur = []
    batches = []
    for i in order:
        if cur and lengths[i] * (len(cur) + 1) > budget:
            batches.append(cur)
            cur = []
        cur.append(i)
    batches.append(cur)
    for b in batches:
        ids, labels, _ = collate(examples, b, pad_id)
        L = ids.shape[1]
        pos = torch.arange(L)[None].expand(len(b), -1)
        logits, _ = model(ids, pos, causal_mask(pos, torch.arange(L)))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum")
        tot += loss.item()
        n += (labels != -100).sum().item()
    model.train()
    return tot / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--tok", required=True, help="dir with tokenizer.json")
    ap.add_argument("--data", nargs="+", required=True, help="gold:PATH[:N] / distill:PATH[:N]")
    ap.add_argument("--test", required=True, help="gsm8k-test.jsonl (first 200 answers: test loss)")
    ap.add_argument("--ckpt-dir", default="/work/scratch/ckpt")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--inter", type=int, default=768)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--budget", type=int, default=8192, help="padded tokens per batch")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--init-embed", default=None, help="checkpoint to copy the embedding (+final norm) from")
    ap.add_argument("--init", default=None,
                    help="checkpoint to continue from (all weights; fresh optimiser and schedule), "
                         "e.g. one rebuilt from a committed model by from_onnx.py")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=None, help="stop early (testing)")
    ap.add_argument("--end-time", default=None,
                    help="UTC HH:MM wall-clock deadline on a shared machine: the cosine schedule is shortened "
                         "to the steps that fit (estimated from recent step times); the log records the result")
    ap.add_argument("--ckpt-eval", type=int, default=0, help="test answers to evaluate at each checkpoint")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.ckpt_dir, exist_ok=True)
    ck_path = os.path.join(args.ckpt_dir, args.name + ".pt")
    final_path = os.path.join(args.ckpt_dir, args.name + ".final.pt")

    tok = BPETokenizer.from_file(os.path.join(args.tok, "tokenizer.json"))
    pad_id = tok.specials[ENDOFTEXT]
    examples = load_examples(tok, args.data)
    test = load_examples(tok, [f"gold:{args.test}:200"])
    lengths = [len(e[0]) for e in examples]
    batches = make_batches(lengths, args.budget, args.epochs, args.seed)
    total = len(batches)
    n_tok = sum(lengths)
    print(f"{len(examples)} examples, {n_tok} tokens ({n_tok / len(examples):.0f}/ex), "
          f"{total} steps for {args.epochs} epochs", flush=True)

    cfg = ModelConfig(num_hidden_layers=args.layers, hidden_size=args.hidden, intermediate_size=args.inter)
    model = Decoder(cfg)
    print(f"params {model.num_params():,} ({cfg})", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    step, tokens_seen, train_secs = 0, 0, 0.0
    if os.path.exists(ck_path):
        m2, ck = load_model(ck_path)
        model.load_state_dict(m2.state_dict())
        opt.load_state_dict(ck["opt"])
        step, tokens_seen, train_secs = ck["step"], ck["tokens_seen"], ck["train_secs"]
        torch.set_rng_state(ck["rng"])
        print(f"resumed from {ck_path} at step {step}", flush=True)
    elif args.init:
        src, _ = load_model(args.init)
        model.load_state_dict(src.state_dict())
        print(f"weights initialised from {args.init}", flush=True)
    elif args.init_embed:
        src, _ = load_model(args.init_embed)
        model.embed.weight.data.copy_(src.embed.weight.data)
        model.norm.weight.data.copy_(src.norm.weight.data)
        print(f"embedding initialised from {args.init_embed}", flush=True)

    deadline = None
    if args.end_time:
        import datetime as dt
        now = dt.datetime.utcnow()
        hh, mm = map(int, args.end_time.split(":"))
        deadline = time.time() + ((now.replace(hour=hh, minute=mm, second=0) - now).total_seconds() % 86400)
    step_time = None  # EMA of seconds per step
    model.train()
    last_ck = time.time()
    t_log, tok_log, loss_acc, n_acc = time.time(), 0, 0.0, 0
    end = total if args.max_steps is None else min(total, args.max_steps)
    while step < end:
        t0 = time.time()
        ids, labels, _ = collate(examples, batches[step], pad_id)
        B, L = ids.shape
        pos = torch.arange(L)[None].expand(B, -1)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, args.lr, args.warmup)
        hidden, _ = model(ids, pos, causal_mask(pos[:1], torch.arange(L)), return_hidden=True)
        # the tied head only where there is a label: the vocab projection is a large share of
        # a shallow model's compute
        sel = labels.reshape(-1) != -100
        logits = F.linear(hidden.reshape(-1, hidden.shape[-1])[sel], model.embed.weight)
        loss = F.cross_entropy(logits, labels.reshape(-1)[sel])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += int((ids != pad_id).sum())
        train_secs += time.time() - t0
        dt_step = time.time() - t0
        step_time = dt_step if step_time is None else 0.9 * step_time + 0.1 * dt_step
        if deadline is not None and step > 10:
            fit = step + int(max(0.0, deadline - time.time()) / step_time)
            total = max(step, min(len(batches), fit))
            end = total if args.max_steps is None else min(total, args.max_steps)
        loss_acc += loss.item()
        n_acc += 1
        tok_log += B * L
        if step % 10 == 0 or step == end:
            dt = time.time() - t_log
            print(f"step {step}/{total} loss {loss_acc / n_acc:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"{tok_log / dt:.0f} tok/s (padded) elapsed {train_secs / 60:.1f} min", flush=True)
            t_log, tok_log, loss_acc, n_acc = time.time(), 0, 0.0, 0
        if time.time() - last_ck > args.ckpt_minutes * 60 or step == end:
            extra = {"opt": opt.state_dict(), "step": step, "tokens_seen": tokens_seen,
                     "train_secs": train_secs, "rng": torch.get_rng_state(), "total_steps": total}
            save_checkpoint(ck_path, model, extra)
            if args.ckpt_eval:
                tl = eval_loss(model, test[:args.ckpt_eval], pad_id)
                print(f"checkpoint step {step}: test loss (first {args.ckpt_eval} test answers) {tl:.4f}", flush=True)
            else:
                print(f"checkpoint step {step} (planned total {total})", flush=True)
            last_ck = time.time()
    if step >= total:
        tl = eval_loss(model, test, pad_id)
        save_checkpoint(final_path, model, {"step": step, "tokens_seen": tokens_seen, "train_secs": train_secs,
                                            "test_loss": tl, "total_steps": total, "args": vars(args)})
        print(f"done: {step} steps, {tokens_seen} tokens, {train_secs / 60:.1f} min, test loss {tl:.4f}", flush=True)


if __name__ == "__main__":
    main()
