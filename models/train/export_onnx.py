"""Export a checkpoint to a model directory in the HF/optimum layout:
config.json, generation_config.json, tokenizer files, onnx/model.onnx (opset 17, float32,
KV-cache I/O) and fixture.json (golden data computed with the PyTorch model, so the
TypeScript tests and check_onnx.mjs can check onnxruntime without PyTorch).

Usage: export_onnx.py --ckpt CKPT --tok TOKDIR --out MODELDIR --kind verifier|ar-drafter|drafter
                      --test gsm8k-test.jsonl [--bd-size 32 --sub-block 8]
"""
import argparse
import json
import os
import shutil

import onnx
import torch

from bpe import BPETokenizer
from data import ENDOFTEXT, IM_END, MASK, load_jsonl, prompt_text
from export_model import ExportDecoder
from generate import greedy_batch
from model import causal_mask, load_model, write_json


def hf_config(m, tok, kind, bd, sub, window="block_end"):
    c = m.c
    cfg = {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": c.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": c.max_position_embeddings,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "vocab_size": c.vocab_size,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "use_cache": True,
        "use_sliding_window": False,
        "sliding_window": None,
        "bos_token_id": tok.specials[ENDOFTEXT],
        "eos_token_id": tok.specials[IM_END],
        "pad_token_id": tok.specials[ENDOFTEXT],
        "torch_dtype": "float32",
        "num_parameters": m.num_params(),
        "failfast_role": kind,
    }
    if kind == "drafter":
        cfg.update({"mask_token_id": tok.specials[MASK], "bd_size": bd, "sub_block_size": sub,
                    "attention_pattern": "block_causal", "token_shift": True, "denoise_window": window})
    return cfg


def run_torch(m, ids, pos, past=None, bd=None):
    """Reference forward of the training model: ids [1,T], pos [1,T], past len P; keys 0..P+T-1."""
    P = 0 if past is None else past[0][0].shape[2]
    kpos = torch.arange(P + ids.shape[1])
    logits, pres = m(ids, pos, causal_mask(pos, kpos, bd_size=bd), past)
    return logits, pres


def rows(logits, idx):
    return [[round(float(v), 5) for v in logits[0, i]] for i in idx]


def export(m, bd, path):
    em = ExportDecoder(m, bd).eval()
    c = m.c
    L, KV, hd = c.num_hidden_layers, c.num_key_value_heads, c.head_dim
    B, T, P = 1, 3, 2
    ids = torch.randint(0, c.vocab_size, (B, T))
    past = [torch.randn(B, KV, P, hd) for _ in range(2 * L)]
    am = torch.ones(B, P + T, dtype=torch.long)
    pos = torch.arange(P, P + T)[None]
    keep = torch.tensor(0, dtype=torch.long)
    names_in = ["input_ids", "attention_mask", "position_ids", "num_logits_to_keep"]
    names_out = ["logits"]
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "logits_length"}}
    for i in range(L):
        for kv in ("key", "value"):
            names_in.append(f"past_key_values.{i}.{kv}")
            names_out.append(f"present.{i}.{kv}")
            dyn[f"past_key_values.{i}.{kv}"] = {0: "batch_size", 2: "past_sequence_length"}
            dyn[f"present.{i}.{kv}"] = {0: "batch_size", 2: "total_sequence_length"}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        # constant folding off: it would store the transposed tied embedding a second time
        torch.onnx.export(em, (ids, am, pos, keep, *past), path, input_names=names_in, output_names=names_out,
                          dynamic_axes=dyn, opset_version=17, do_constant_folding=False)
    onnx.checker.check_model(onnx.load(path))
    return em


def check_export_model(m, em, bd):
    """The folded export module must match the training module (prefill + cached step)."""
    torch.manual_seed(0)
    c = m.c
    ids = torch.randint(0, c.vocab_size, (1, 40))
    pos = torch.arange(40)[None]
    ref, _ = run_torch(m, ids, pos, bd=bd)
    empty = [torch.zeros(1, c.num_key_value_heads, 0, c.head_dim) for _ in range(2 * c.num_hidden_layers)]
    S = 32  # split at a block boundary: a block-causal prefill of a partial block is a different input
    all_rows = torch.tensor(0)
    out = em(ids[:, :S], torch.ones(1, S, dtype=torch.long), pos[:, :S], all_rows, *empty)
    out2 = em(ids[:, S:], torch.ones(1, 40, dtype=torch.long), pos[:, S:], all_rows, *out[1:])
    last3 = em(ids[:, S:], torch.ones(1, 40, dtype=torch.long), pos[:, S:], torch.tensor(3), *out[1:])
    assert last3[0].shape[1] == 3
    d = max((out[0] - ref[:, :S]).abs().max().item(), (out2[0] - ref[:, S:]).abs().max().item(),
            (last3[0] - ref[:, -3:]).abs().max().item())
    assert d < 1e-4, f"export module differs from training module: {d}"
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tok", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kind", required=True, choices=["verifier", "ar-drafter", "drafter"])
    ap.add_argument("--test", required=True)
    ap.add_argument("--bd-size", type=int, default=32)
    ap.add_argument("--sub-block", type=int, default=8)
    ap.add_argument("--denoise-window", choices=["block_end", "sub_block_end"], default="block_end",
                    help="drafter: where the runtime's denoising windows end (sub_block_end: trained with --p-trunc)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    tok = BPETokenizer.from_file(os.path.join(args.tok, "tokenizer.json"))
    m, ck = load_model(args.ckpt)
    m.eval()
    bd = args.bd_size if args.kind == "drafter" else None
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "onnx", "model.onnx")
    with torch.no_grad():
        em = export(m, bd, onnx_path)
        diff = check_export_model(m, em, bd)
    cfg = hf_config(m, tok, args.kind, args.bd_size, args.sub_block, args.denoise_window)
    write_json(os.path.join(args.out, "config.json"), cfg)
    write_json(os.path.join(args.out, "generation_config.json"), {
        "bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"], "pad_token_id": cfg["pad_token_id"],
        "do_sample": False, "max_new_tokens": 256})
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.tok, f), os.path.join(args.out, f))

    # ---- golden fixture (PyTorch training module) ----
    q = load_jsonl(args.test, 1)[0]["question"]
    prompt = prompt_text(q)
    pids = tok.encode(prompt)
    P = len(pids)
    fx = {"model": args.kind, "tolerance": 1e-4, "prompt": prompt, "input_ids": pids,
          "notes": "logits rows rounded to 5 decimals; position_ids = 0..T-1; attention_mask all ones"}
    with torch.no_grad():
        ids = torch.tensor([pids])
        pos = torch.arange(P)[None]
        full, _ = run_torch(m, ids, pos, bd=bd)
        sel = [0, P // 2, P - 1]
        fx["prefill"] = {"positions": sel, "logits": rows(full, sel),
                         "argmax": full[0].argmax(-1).tolist()}
        # incremental: prefill the first P-1 tokens, then one step with the cache
        _, pres = run_torch(m, ids[:, :P - 1], pos[:, :P - 1], bd=bd)
        step, _ = run_torch(m, ids[:, P - 1:], pos[:, P - 1:], past=pres, bd=bd)
        fx["incremental"] = {"prefill_len": P - 1, "step_ids": pids[P - 1:], "step_logits": rows(step, [0])}
        if args.kind != "drafter":
            res = greedy_batch(m, [pids], 32, -1, tok.specials[ENDOFTEXT])
            fx["greedy"] = {"max_new_tokens": 32, "ignore_eos": True, "ids": res[0][0]}
        else:
            # window crossing a block boundary: cached prefix = complete blocks, then committed
            # tokens, then masks running past the next multiple of bd
            mask_id = tok.specials[MASK]
            ctx = pids + tok.encode("Natalia sold 48/2 = 24 clips in May.")
            C = len(ctx)
            nb = ((C + 4) // bd) * bd  # a block boundary inside the window
            if nb <= C:
                nb += bd
            prefix_len = (C // bd) * bd
            n_mask = (nb - C) + args.sub_block  # masks reach sub_block tokens into the next block
            window = ctx[prefix_len:] + [mask_id] * n_mask
            wpos = list(range(prefix_len, prefix_len + len(window)))
            allids = torch.tensor([ctx[:prefix_len] + window])
            allpos = torch.arange(allids.shape[1])[None]
            ref, _ = run_torch(m, allids, allpos, bd=bd)
            _, pres = run_torch(m, allids[:, :prefix_len], allpos[:, :prefix_len], bd=bd)
            win, _ = run_torch(m, torch.tensor([window]), torch.tensor([wpos]), past=pres, bd=bd)
            assert (win[0] - ref[0, prefix_len:]).abs().max() < 1e-4
            wsel = [C - prefix_len - 1, len(window) - 1]
            fx["block_window"] = {
                "bd_size": bd, "prefix_ids": ctx[:prefix_len], "window_ids": window, "window_position_ids": wpos,
                "first_mask_index": C - prefix_len, "block_boundary_position": nb,
                "rows": wsel, "logits": rows(win, wsel), "argmax": win[0].argmax(-1).tolist(),
                "notes": "run prefix (past 0) then window with the prefix's present as past; "
                         "argmax[i] is the single-pass prediction for position wpos[i]+1 (token shift)"}
    with open(os.path.join(args.out, "fixture.json"), "w") as f:
        json.dump(fx, f, separators=(",", ":"))
    print(f"exported {args.kind} ({m.num_params():,} params, export-module diff {diff:.2e}) to {args.out}")


if __name__ == "__main__":
    main()
