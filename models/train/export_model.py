"""Inference-only copy of model.Decoder for ONNX export, with the HF/optimum I/O.

At these sizes onnxruntime's latency is per-operator overhead, so the graph is kept lean:
- one MatMul per layer for Q, K, V (the 1/sqrt(head_dim) scale folded into the Q columns),
  one Split; RoPE's rotate_half swaps the two halves of every head (one Slice with step -1 over
  a [.., heads, 2, hd/2] view; a Gather of the permuted columns cost 47 us for a 32-token
  window, onnxruntime gathering one float at a time), with the sign folded into the sin table
  (weights are not duplicated: the size budget is tight);
- RoPE cos/sin, the attention mask and its GQA tiling are computed once per graph;
- grouped-query attention without repeating K/V (query heads of a group stacked on rows);
- gate and up projections in one MatMul.
The mask: query positions come from position_ids, key positions are 0..past+seq-1 (the
length of attention_mask); causal (k <= q) or block-causal (k//bd <= q//bd), and'ed with
attention_mask as key padding.
num_logits_to_keep (int64 scalar, 0 = all rows, as HF transformers' logits_to_keep): only the
last n rows go through the last layer's attention output and MLP, the final norm and the
vocabulary projection (every row still writes its keys and values). A prefill needs one row,
a drafter's denoising pass one sub-block; for a shallow model over a 32-token window the
projection and the last layer's unused rows are a large share of the arithmetic.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import NEG, Decoder


class ExportDecoder(nn.Module):
    def __init__(self, m: Decoder, bd_size=None):
        super().__init__()
        c = m.c
        self.c, self.bd = c, bd_size
        H, KV, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.embed = nn.Parameter(m.embed.weight.detach().clone())
        inv = 1.0 / (c.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer("inv_freq", torch.cat([inv, inv]))
        # rotate_half(x) == (x with each head's halves swapped) * sign, over [q heads | k heads]
        h = hd // 2
        self.register_buffer("sign", torch.cat([-torch.ones(h), torch.ones(h)]).repeat(H + KV))
        scale = 1.0 / math.sqrt(hd)
        self.w_attn, self.w_o, self.w_gu, self.w_down, self.n1, self.n2 = (nn.ParameterList() for _ in range(6))
        for l in m.layers:
            wq = l.q.weight.detach().t() * scale  # [d, H*hd]
            wk = l.k.weight.detach().t()
            wv = l.v.weight.detach().t()
            self.w_attn.append(nn.Parameter(torch.cat([wq, wk, wv], 1).contiguous()))
            self.w_o.append(nn.Parameter(l.o.weight.detach().t().contiguous()))
            self.w_gu.append(nn.Parameter(torch.cat([l.gate.weight.detach().t(), l.up.weight.detach().t()], 1).contiguous()))
            self.w_down.append(nn.Parameter(l.down.weight.detach().t().contiguous()))
            self.n1.append(nn.Parameter(l.ln1.weight.detach().clone()))
            self.n2.append(nn.Parameter(l.ln2.weight.detach().clone()))
        self.norm = nn.Parameter(m.norm.weight.detach().clone())

    def _rms(self, x, w):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.c.rms_norm_eps) * w

    def forward(self, input_ids, attention_mask, position_ids, num_logits_to_keep, *past):
        c = self.c
        H, KV, hd, I = c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.intermediate_size
        G = H // KV
        B, T = input_ids.shape[0], input_ids.shape[1]
        x = F.embedding(input_ids, self.embed)
        # RoPE tables for the [q heads | k heads] layout, once per graph
        f = position_ids.to(torch.float32).unsqueeze(-1) * self.inv_freq
        cos = torch.cos(f).repeat(1, 1, H + KV)
        sin = torch.sin(f).repeat(1, 1, H + KV) * self.sign
        # mask [B, 1, G*T, K] from query positions vs key positions 0..K-1, once per graph
        kpos = torch.arange(attention_mask.shape[1], device=input_ids.device).unsqueeze(0).unsqueeze(0)
        qpos = position_ids.unsqueeze(-1)
        if self.bd:
            ok = torch.div(kpos, self.bd, rounding_mode="floor") <= torch.div(qpos, self.bd, rounding_mode="floor")
        else:
            ok = kpos <= qpos
        ok = ok & attention_mask.unsqueeze(1).to(torch.bool)
        mask = torch.where(ok, torch.tensor(0.0), torch.tensor(NEG))
        mask = mask.repeat(1, G, 1).unsqueeze(1)
        # rows whose logits are kept; shapes as tensors (not Python ints) so that the traced graph
        # keeps them dynamic
        seq = torch._shape_as_tensor(input_ids)[1]
        n = torch.where(num_logits_to_keep > 0, torch.minimum(num_logits_to_keep, seq), seq)
        kept = torch.arange(seq - n, seq)
        presents = []
        for i in range(c.num_hidden_layers):
            h = self._rms(x, self.n1[i])
            qk, v = torch.matmul(h, self.w_attn[i]).split([(H + KV) * hd, KV * hd], -1)
            swapped = qk.reshape(B, T, H + KV, 2, hd // 2).flip(3).reshape(B, T, (H + KV) * hd)
            qk = qk * cos + swapped * sin
            q, k = qk.split([H * hd, KV * hd], -1)
            k = k.reshape(B, T, KV, hd).transpose(1, 2)
            v = v.reshape(B, T, KV, hd).transpose(1, 2)
            k = torch.cat([past[2 * i], k], 2)
            v = torch.cat([past[2 * i + 1], v], 2)
            presents += [k, v]
            m, rows = mask, T
            if i == c.num_hidden_layers - 1:
                # past the keys and values, only the kept rows matter
                q, x = torch.index_select(q, 1, kept), torch.index_select(x, 1, kept)
                m = torch.index_select(mask.reshape(B, 1, G, T, -1), 3, kept).reshape(B, 1, G * n, -1)
                rows = n
            q = q.reshape(B, rows, KV, G, hd).permute(0, 2, 3, 1, 4).reshape(B, KV, G * rows, hd)
            att = torch.softmax(torch.matmul(q, k.transpose(2, 3)) + m, -1)
            y = torch.matmul(att, v).reshape(B, KV, G, rows, hd).permute(0, 3, 1, 2, 4).reshape(B, rows, H * hd)
            x = x + torch.matmul(y, self.w_o[i])
            h = self._rms(x, self.n2[i])
            g, u = torch.matmul(h, self.w_gu[i]).split([I, I], -1)
            x = x + torch.matmul(F.silu(g) * u, self.w_down[i])
        x = self._rms(x, self.norm)
        logits = torch.matmul(x, self.embed.t())
        return (logits, *presents)
