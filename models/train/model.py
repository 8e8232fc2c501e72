"""Qwen2-style decoder used by all three models (verifier, AR drafter, dLLM drafter).

RoPE, RMSNorm, SwiGLU, grouped-query attention, tied embeddings, no biases.
The same module runs training (explicit additive attention mask, no cache) and the
KV-cached forward used for generation; export_onnx.py builds a leaner, weight-folded
copy for ONNX and checks it against this one.

GQA without repeating K/V: the query heads that share a KV head are stacked along the
query-row axis ([B, kv, group*T, hd]), so one matmul per layer serves the whole group.
"""
import json
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG = -1e9  # additive mask value: finite, so a fully masked (padding) row cannot produce NaN


@dataclass
class ModelConfig:
    vocab_size: int = 4096
    hidden_size: int = 256
    num_hidden_layers: int = 12
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64
    intermediate_size: int = 768
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 512

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(position_ids, head_dim, theta):
    """cos/sin [B, T, head_dim] for HF-style rotate_half RoPE."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    f = position_ids.to(torch.float32)[..., None] * inv
    emb = torch.cat([f, f], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Block(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.c = c
        H, KV, hd, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.hidden_size
        self.ln1 = RMSNorm(d, c.rms_norm_eps)
        self.q = nn.Linear(d, H * hd, bias=False)
        self.k = nn.Linear(d, KV * hd, bias=False)
        self.v = nn.Linear(d, KV * hd, bias=False)
        self.o = nn.Linear(H * hd, d, bias=False)
        self.ln2 = RMSNorm(d, c.rms_norm_eps)
        self.gate = nn.Linear(d, c.intermediate_size, bias=False)
        self.up = nn.Linear(d, c.intermediate_size, bias=False)
        self.down = nn.Linear(c.intermediate_size, d, bias=False)

    def forward(self, x, cos, sin, mask, past=None, slot=None):
        """x [B,T,d]; cos/sin [B,T,hd]; mask additive [B,1,T,K] (K = past+T); past (k,v) [B,KV,P,hd].
        slot (k_buf, v_buf, length): a preallocated cache written in place instead of `past`."""
        c = self.c
        B, T, _ = x.shape
        H, KV, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        G = H // KV
        h = self.ln1(x)
        q = self.q(h).view(B, T, H, hd).transpose(1, 2)  # [B,H,T,hd]
        k = self.k(h).view(B, T, KV, hd).transpose(1, 2)
        v = self.v(h).view(B, T, KV, hd).transpose(1, 2)
        cs, sn = cos[:, None], sin[:, None]
        q = q * cs + rotate_half(q) * sn
        k = k * cs + rotate_half(k) * sn
        if slot is not None:
            kb, vb, t = slot
            kb[:, :, t:t + T] = k
            vb[:, :, t:t + T] = v
            k, v = kb[:, :, :t + T], vb[:, :, :t + T]
        elif past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        # group query heads that share a KV head along the row axis
        qg = q.reshape(B, KV, G * T, hd)
        att = torch.matmul(qg, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
        att = att.view(B, KV, G, T, -1) + mask[:, :, None]
        att = F.softmax(att, dim=-1).view(B, KV, G * T, -1)
        y = torch.matmul(att, v).view(B, H, T, hd).transpose(1, 2).reshape(B, T, H * hd)
        x = x + self.o(y)
        h = self.ln2(x)
        x = x + self.down(F.silu(self.gate(h)) * self.up(h))
        return x, (k, v)


class Decoder(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Block(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.apply(self._init)
        # GPT-2 style: scale the residual-output projections down with depth
        for l in self.layers:
            nn.init.normal_(l.o.weight, std=0.02 / math.sqrt(2 * c.num_hidden_layers))
            nn.init.normal_(l.down.weight, std=0.02 / math.sqrt(2 * c.num_hidden_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def num_params(self):
        return sum(p.numel() for p in self.parameters())

    def forward(self, input_ids, position_ids, mask, past=None, return_hidden=False, cache=None):
        """mask: additive [B,1,T,K]. Returns logits [B,T,V] (tied head) and the new (k,v) per layer.
        cache: a StaticCache filled in place (generation), instead of concatenating `past`."""
        x = self.embed(input_ids)
        cos, sin = rope_cos_sin(position_ids, self.c.head_dim, self.c.rope_theta)
        presents = []
        for i, l in enumerate(self.layers):
            slot = None if cache is None else (cache.k[i], cache.v[i], cache.length)
            x, kv = l(x, cos, sin, mask, None if past is None else past[i], slot)
            presents.append(kv)
        if cache is not None:
            cache.length += input_ids.shape[1]
        x = self.norm(x)
        if return_hidden:
            return x, presents
        return F.linear(x, self.embed.weight), presents


class StaticCache:
    """Preallocated K/V buffers [B, KV, capacity, hd] per layer for batched generation:
    concatenating the cache every step copies all of it (the distillation's bottleneck)."""

    def __init__(self, c: ModelConfig, batch, capacity):
        shape = (batch, c.num_key_value_heads, capacity, c.head_dim)
        self.k = [torch.empty(shape) for _ in range(c.num_hidden_layers)]
        self.v = [torch.empty(shape) for _ in range(c.num_hidden_layers)]
        self.length = 0

    def keep_rows(self, rows):
        """Drop finished rows (one copy of the filled part)."""
        self.k = [b[rows] for b in self.k]
        self.v = [b[rows] for b in self.v]


def causal_mask(q_pos, k_pos, key_valid=None, bd_size=None):
    """Additive mask [B,1,T,K] from query positions [B,T] and key positions [B,K] (or [K]).
    AR: k <= q. Block-causal (bd_size): floor(k/bd) <= floor(q/bd). key_valid [B,K] bool: padding."""
    if k_pos.dim() == 1:
        k_pos = k_pos[None].expand(q_pos.shape[0], -1)
    if bd_size:
        ok = (k_pos[:, None, :] // bd_size) <= (q_pos[:, :, None] // bd_size)
    else:
        ok = k_pos[:, None, :] <= q_pos[:, :, None]
    if key_valid is not None:
        ok = ok & key_valid[:, None, :]
    return torch.where(ok, 0.0, NEG)[:, None].to(torch.float32)


def save_checkpoint(path, model, extra):
    torch.save({"config": model.c.to_dict(), "model": model.state_dict(), **extra}, path + ".tmp")
    import os
    os.replace(path + ".tmp", path)


def load_model(path):
    ck = torch.load(path, map_location="cpu")
    m = Decoder(ModelConfig.from_dict(ck["config"]))
    m.load_state_dict(ck["model"])
    return m, ck


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
