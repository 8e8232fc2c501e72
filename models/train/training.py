"""What the training scripts (train_ar.py, train_dllm.py) share: run setup, the optimiser,
resuming from a checkpoint, the learning-rate schedule (optionally fitted to a wall-clock
deadline), the tied-head loss and the optimiser step.
"""
import datetime as dt
import math
import os
import random
import time

import torch
import torch.nn.functional as F

from model import load_model


def add_run_args(ap):
    """Options every training script takes."""
    ap.add_argument("--ckpt-dir", default="/work/scratch/ckpt")
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=None, help="stop early (testing)")
    ap.add_argument("--end-time", default=None,
                    help="UTC HH:MM wall-clock deadline on a shared machine: the cosine schedule is shortened "
                         "to the steps that fit (estimated from recent step times); the log records the result")


def start_run(args):
    """Threads, seeds, checkpoint directory; returns (checkpoint path, final checkpoint path)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.ckpt_dir, exist_ok=True)
    base = os.path.join(args.ckpt_dir, args.name)
    return base + ".pt", base + ".final.pt"


def adamw(model, lr, wd):
    """AdamW, weight decay on matrices only."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def restore(ck_path, model, opt):
    """Loads model and optimiser state from an interrupted run's checkpoint; None if there is none."""
    if not os.path.exists(ck_path):
        return None
    m2, ck = load_model(ck_path)
    model.load_state_dict(m2.state_dict())
    opt.load_state_dict(ck["opt"])
    print(f"resumed from {ck_path} at step {ck['step']}", flush=True)
    return ck


def lr_at(step, total, peak, warmup, floor=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    f = (step - warmup) / max(1, total - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, f))))


class Schedule:
    """The planned steps, shortened to what fits before --end-time (from an average of recent step
    times), and capped by --max-steps. `total` sets the cosine; `end` is where this run stops."""

    def __init__(self, planned, end_time=None, max_steps=None):
        self.planned, self.max_steps = planned, max_steps
        self.deadline = None
        if end_time:
            now = dt.datetime.utcnow()
            hh, mm = map(int, end_time.split(":"))
            self.deadline = time.time() + ((now.replace(hour=hh, minute=mm, second=0) - now).total_seconds() % 86400)
        self.step_time = None  # moving average of seconds per step
        self.total = planned

    @property
    def end(self):
        return self.total if self.max_steps is None else min(self.total, self.max_steps)

    def after_step(self, step, secs):
        self.step_time = secs if self.step_time is None else 0.9 * self.step_time + 0.1 * secs
        if self.deadline is not None and step > 10:
            fit = step + int(max(0.0, self.deadline - time.time()) / self.step_time)
            self.total = max(step, min(self.planned, fit))


def tied_head_loss(model, hidden, labels, weights=None, soft=None):
    """Cross-entropy through the tied head, computed only where there is a label: the vocabulary
    projection is a large share of a shallow model's compute. With `weights` (the labels' shape),
    the weighted mean over labelled positions. With `soft` = (rows [labels' shape] int64, a teacher
    row per labelled position; top-k ids [R,K]; their log-probs [R,K]; alpha), each position's loss
    is (1 - alpha) CE(label) + alpha CE(teacher's top-k, renormalised): soft-target distillation."""
    sel = labels.reshape(-1) != -100
    logits = F.linear(hidden.reshape(-1, hidden.shape[-1])[sel], model.embed.weight)
    target = labels.reshape(-1)[sel]
    if soft is None:
        loss = F.cross_entropy(logits, target, reduction="none")
    else:
        # one log-softmax for both terms
        rows, t_ids, t_logp, alpha = soft
        r = rows.reshape(-1)[sel]
        assert bool((r >= 0).all()), "a labelled position without a teacher row"
        logp = torch.log_softmax(logits, -1)
        q = torch.softmax(t_logp[r].float(), -1)
        soft_ce = -(q * logp.gather(1, t_ids[r].long())).sum(-1)
        loss = (1 - alpha) * F.nll_loss(logp, target, reduction="none") + alpha * soft_ce
    if weights is None:
        return loss.mean()
    w = weights.reshape(-1)[sel]
    return (loss * w).sum() / w.sum()


def optimise(model, opt, loss, lr):
    """One step at learning rate `lr`, gradients clipped to norm 1."""
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
