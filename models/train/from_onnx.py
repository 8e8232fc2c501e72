"""Rebuild a PyTorch checkpoint from an exported model directory (config.json + onnx/model.onnx).

export_model.py folds weights (Q scale into the QKV matrix, gate|up stacked, transposes); this
undoes exactly that, so a committed model can be trained further, re-evaluated or used as a
distillation teacher without its original checkpoint. The result is checked against the
directory's golden fixture (PyTorch logits written at export time).

Usage: from_onnx.py MODEL_DIR OUT.pt
"""
import json
import math
import sys

import onnx
import torch
from onnx import numpy_helper

from model import Decoder, ModelConfig, causal_mask, save_checkpoint


def rebuild(model_dir):
    with open(f"{model_dir}/config.json") as f:
        hf = json.load(f)
    cfg = ModelConfig(vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"],
                      num_hidden_layers=hf["num_hidden_layers"], num_attention_heads=hf["num_attention_heads"],
                      num_key_value_heads=hf["num_key_value_heads"],
                      head_dim=hf.get("head_dim", hf["hidden_size"] // hf["num_attention_heads"]),
                      intermediate_size=hf["intermediate_size"], rms_norm_eps=hf["rms_norm_eps"],
                      rope_theta=hf["rope_theta"], max_position_embeddings=hf["max_position_embeddings"])
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
         for i in onnx.load(f"{model_dir}/onnx/model.onnx").graph.initializer}
    m = Decoder(cfg)
    H, KV, hd, I = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.intermediate_size
    with torch.no_grad():
        m.embed.weight.copy_(w["embed"])
        m.norm.weight.copy_(w["norm"])
        for i, l in enumerate(m.layers):
            wq, wk, wv = w[f"w_attn.{i}"].split([H * hd, KV * hd, KV * hd], 1)
            l.q.weight.copy_((wq * math.sqrt(hd)).t())
            l.k.weight.copy_(wk.t())
            l.v.weight.copy_(wv.t())
            l.o.weight.copy_(w[f"w_o.{i}"].t())
            gate, up = w[f"w_gu.{i}"].split([I, I], 1)
            l.gate.weight.copy_(gate.t())
            l.up.weight.copy_(up.t())
            l.down.weight.copy_(w[f"w_down.{i}"].t())
            l.ln1.weight.copy_(w[f"n1.{i}"])
            l.ln2.weight.copy_(w[f"n2.{i}"])
    return m, hf


@torch.no_grad()
def check_fixture(m, hf, model_dir):
    """Max abs difference against the fixture's prefill logits rows (PyTorch, export time)."""
    with open(f"{model_dir}/fixture.json") as f:
        fx = json.load(f)
    ids = torch.tensor([fx["input_ids"]])
    L = ids.shape[1]
    pos = torch.arange(L)[None]
    logits, _ = m(ids, pos, causal_mask(pos, torch.arange(L), bd_size=hf.get("bd_size")))
    ref = torch.tensor(fx["prefill"]["logits"])
    return (logits[0, fx["prefill"]["positions"]] - ref).abs().max().item()


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    m, hf = rebuild(model_dir)
    diff = check_fixture(m, hf, model_dir)
    print(f"{model_dir}: {m.num_params():,} params, fixture max abs diff {diff:.2e}")
    if diff > 1e-3:
        sys.exit(f"rebuilt model does not match the fixture ({diff})")
    save_checkpoint(out, m, {"source": model_dir, "bd_size": hf.get("bd_size")})


if __name__ == "__main__":
    main()
