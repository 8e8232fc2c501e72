"""Train a causal (AR) model: the verifier on gold GSM8K answers, or the AR drafter on the
verifier's distilled answers. Plain CE on the assistant tokens (no label smoothing, no
dropout: both made greedy answers loop more in trials), AdamW, warmup + cosine LR.

Checkpoints every --ckpt-minutes to CKPT_DIR/NAME.pt and resumes from it; the final model is
CKPT_DIR/NAME.final.pt. Logs to stdout (run under nohup, redirect to a log file).
"""
import argparse
import os
import time

import torch
import torch.nn.functional as F

from bpe import BPETokenizer
from dataset import collate, load_examples, make_batches
from data import ENDOFTEXT
from model import Decoder, ModelConfig, causal_mask, load_model, save_checkpoint
from training import Schedule, adamw, add_run_args, lr_at, optimise, restore, start_run, tied_head_loss


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
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--inter", type=int, default=768)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--budget", type=int, default=8192, help="padded tokens per batch")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--init-embed", default=None, help="checkpoint to copy the embedding (+final norm) from")
    ap.add_argument("--init", default=None,
                    help="checkpoint to continue from (all weights; fresh optimiser and schedule), "
                         "e.g. one rebuilt from a committed model by from_onnx.py")
    ap.add_argument("--seed", type=int, default=1234)
    add_run_args(ap)
    ap.add_argument("--ckpt-eval", type=int, default=0, help="test answers to evaluate at each checkpoint")
    args = ap.parse_args()

    ck_path, final_path = start_run(args)

    tok = BPETokenizer.from_file(os.path.join(args.tok, "tokenizer.json"))
    pad_id = tok.specials[ENDOFTEXT]
    examples = load_examples(tok, args.data)
    test = load_examples(tok, [f"gold:{args.test}:200"])
    lengths = [len(e[0]) for e in examples]
    batches = make_batches(lengths, args.budget, args.epochs, args.seed)
    sched = Schedule(len(batches), args.end_time, args.max_steps)
    n_tok = sum(lengths)
    print(f"{len(examples)} examples, {n_tok} tokens ({n_tok / len(examples):.0f}/ex), "
          f"{len(batches)} steps for {args.epochs} epochs", flush=True)

    cfg = ModelConfig(num_hidden_layers=args.layers, hidden_size=args.hidden, intermediate_size=args.inter)
    model = Decoder(cfg)
    print(f"params {model.num_params():,} ({cfg})", flush=True)
    opt = adamw(model, args.lr, args.wd)
    step, tokens_seen, train_secs = 0, 0, 0.0
    ck = restore(ck_path, model, opt)
    if ck:
        step, tokens_seen, train_secs = ck["step"], ck["tokens_seen"], ck["train_secs"]
        torch.set_rng_state(ck["rng"])
    elif args.init:
        src, _ = load_model(args.init)
        model.load_state_dict(src.state_dict())
        print(f"weights initialised from {args.init}", flush=True)
    elif args.init_embed:
        src, _ = load_model(args.init_embed)
        model.embed.weight.data.copy_(src.embed.weight.data)
        model.norm.weight.data.copy_(src.norm.weight.data)
        print(f"embedding initialised from {args.init_embed}", flush=True)

    model.train()
    last_ck = time.time()
    t_log, tok_log, loss_acc, n_acc = time.time(), 0, 0.0, 0
    while step < sched.end:
        t0 = time.time()
        ids, labels, _ = collate(examples, batches[step], pad_id)
        B, L = ids.shape
        pos = torch.arange(L)[None].expand(B, -1)
        hidden, _ = model(ids, pos, causal_mask(pos[:1], torch.arange(L)), return_hidden=True)
        loss = tied_head_loss(model, hidden, labels)
        optimise(model, opt, loss, lr_at(step, sched.total, args.lr, args.warmup))
        step += 1
        tokens_seen += int((ids != pad_id).sum())
        train_secs += time.time() - t0
        sched.after_step(step, time.time() - t0)
        loss_acc += loss.item()
        n_acc += 1
        tok_log += B * L
        if step % 10 == 0 or step == sched.end:
            dt = time.time() - t_log
            print(f"step {step}/{sched.total} loss {loss_acc / n_acc:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"{tok_log / dt:.0f} tok/s (padded) elapsed {train_secs / 60:.1f} min", flush=True)
            t_log, tok_log, loss_acc, n_acc = time.time(), 0, 0.0, 0
        if time.time() - last_ck > args.ckpt_minutes * 60 or step == sched.end:
            extra = {"opt": opt.state_dict(), "step": step, "tokens_seen": tokens_seen,
                     "train_secs": train_secs, "rng": torch.get_rng_state(), "total_steps": sched.total}
            save_checkpoint(ck_path, model, extra)
            if args.ckpt_eval:
                tl = eval_loss(model, test[:args.ckpt_eval], pad_id)
                print(f"checkpoint step {step}: test loss (first {args.ckpt_eval} test answers) {tl:.4f}", flush=True)
            else:
                print(f"checkpoint step {step} (planned total {sched.total})", flush=True)
            last_ck = time.time()
    if step >= sched.total:
        tl = eval_loss(model, test, pad_id)
        save_checkpoint(final_path, model, {"step": step, "tokens_seen": tokens_seen, "train_secs": train_secs,
                                            "test_loss": tl, "total_steps": sched.total, "args": vars(args)})
        print(f"done: {step} steps, {tokens_seen} tokens, {train_secs / 60:.1f} min, test loss {tl:.4f}", flush=True)


if __name__ == "__main__":
    main()
