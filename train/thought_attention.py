"""The attention of Quiet-STaR's parallel thoughts (train/quiet_star.py): masks and the forward.

All positions think at once: the thought tokens of step s form one block of P queries (P thinking
positions) that attends to the base window through a causal document mask and to its own earlier
steps through the diagonal (position p of step s sees position p of steps 1..s only; `step_mask`).
The keys and values grow by one block per step (`run_step`), so a thought of L tokens costs L
forwards of P queries each (the paper's trick). On CPU the mask is a dense boolean one for SDPA
(the reference); with `model.use_flex` (CUDA) the same rule is a FlexAttention mask function
(`flex_step_mask`), which the tests check against the dense mask on CPU. Legend: B batch, T window,
P thinking positions, S keys, D width, G kv heads, K head dim.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from thresher.train.attention import _flex, apply_rope
from torch.nn.attention.flex_attention import create_block_mask, flex_attention


def thinking_positions(T: int, every: int, device=None) -> torch.Tensor:
    """The positions that think: every `every`-th one, ending each group: T=7, every=3 -> [2, 5]."""
    return torch.arange(every - 1, T, every, device=device)


def step_mask(doc_BT: torch.Tensor, at_P: torch.Tensor, step: int, window: int = 0) -> torch.Tensor:
    """What the thought tokens of `step` (1-based) may attend to: (B, P, T + step * P) bool over the
    keys [base window | step 1 | ... | step `step`]. Thought p (thinking at base position i = at_P[p])
    sees the base tokens j <= i of its own document and, in every step block, only column p: its own
    earlier tokens and itself; a sliding-window layer counts back from the thought token's position
    i + step along the thought and then the prefix, as a cached forward over the same tokens would."""
    B, T = doc_BT.shape
    P = at_P.shape[0]
    j = torch.arange(T, device=doc_BT.device)
    base = (j[None, :] <= at_P[:, None])  # (P, T)
    if window:
        base = base & (at_P[:, None] + step - j[None, :] < window)
    base = base & (doc_BT[:, at_P, None] == doc_BT[:, None, :])  # (B, P, T)
    own = torch.eye(P, dtype=torch.bool, device=doc_BT.device).repeat(1, step)  # (P, step * P)
    if window:  # a thought token at i + step sees its own token of step r only within the window too
        r = torch.arange(1, step + 1, device=doc_BT.device).repeat_interleave(P)
        own = own & (step - r < window)[None, :]
    return torch.cat([base, own.expand(B, P, step * P)], dim=2)


def thought_mask(doc_BT: torch.Tensor, at_P: torch.Tensor, steps: int, window: int = 0) -> torch.Tensor:
    """The whole pattern at once, (B, T + steps*P, T + steps*P): the base window document-causal,
    then each step's rows from `step_mask` (padded with False for the later steps). The forward
    never builds it (it runs step by step); the tests and a full-sequence check read it."""
    B, T = doc_BT.shape
    S = T + steps * at_P.shape[0]
    i = torch.arange(T, device=doc_BT.device)
    base = (i[:, None] >= i[None, :]) & (doc_BT[:, :, None] == doc_BT[:, None, :])
    if window:
        base = base & (i[:, None] - i[None, :] < window)
    rows = [F.pad(base, (0, S - T))]
    for s in range(1, steps + 1):
        m = step_mask(doc_BT, at_P, s, window)
        rows.append(F.pad(m, (0, S - m.shape[2])))
    return torch.cat(rows, dim=1)


def step_mask_mod(doc_BT: torch.Tensor, at_P: torch.Tensor, step: int, window: int = 0) -> Callable:
    """`step_mask`'s rule as a FlexAttention mask function of (batch, head, query, key) indices."""
    T, P = doc_BT.shape[1], at_P.shape[0]

    def mask_mod(b, h, q, kv):
        i = at_P[q]
        j = kv.clamp(max=T - 1)
        base = (kv < T) & (j <= i) & (doc_BT[b, i] == doc_BT[b, j])
        rel = (kv - T).clamp(min=0)
        own = (kv >= T) & (rel % P == q)
        if window:
            base = base & (i + step - j < window)
            own = own & (step - (rel // P + 1) < window)
        return base | own

    return mask_mod


def flex_step_mask(doc_BT: torch.Tensor, at_P: torch.Tensor, step: int, window: int = 0):
    """`step_mask` as a FlexAttention BlockMask (the CUDA path): no (P, T + step * P) tensor is
    materialised and whole blocks of other thoughts are skipped."""
    B, T = doc_BT.shape
    P = at_P.shape[0]
    return create_block_mask(step_mask_mod(doc_BT, at_P, step, window), B, None, P, T + step * P,
                             device=doc_BT.device)


def _base_flex_mask(doc_BT: torch.Tensor, window: int = 0):
    B, T = doc_BT.shape

    def mask_mod(b, h, q, kv):
        ok = (q >= kv) & (doc_BT[b, q] == doc_BT[b, kv])
        return ok & (q - kv < window) if window else ok

    return create_block_mask(mask_mod, B, None, T, T, device=doc_BT.device)


def step_masks(model, doc_BT: torch.Tensor, at_P: torch.Tensor, step: int) -> dict:
    """What each window size of the model attends with at `step` (0: the base window): dense boolean
    masks for SDPA, or FlexAttention block masks when `model.use_flex` (CUDA)."""
    out = {}
    for w in {b.attn.window for b in model.blocks}:
        if model.use_flex:
            out[w] = _base_flex_mask(doc_BT, w) if step == 0 else flex_step_mask(doc_BT, at_P, step, w)
        elif step == 0:
            i = torch.arange(doc_BT.shape[1], device=doc_BT.device)
            m = (i[:, None] >= i[None, :]) & (doc_BT[:, :, None] == doc_BT[:, None, :])  # (B, T, T)
            out[w] = m & (i[:, None] - i[None, :] < w) if w else m
        else:
            out[w] = step_mask(doc_BT, at_P, step, w)
    return out


def _block(block, x_BTD, cos, sin, masks: dict, past: tuple | None):
    """One transformer block over new queries whose keys are `past` (k, v) + their own: the model's
    Block.forward with an explicit mask and growing keys (the model's KVCache masks by position,
    which cannot say "own thought only"). Returns (x, aux, (k, v))."""
    attn = block.attn
    B, T, _ = x_BTD.shape
    H, G, K = attn.n_heads, attn.n_kv, attn.head_dim
    q, k, v = attn.qkv(block.attn_norm(x_BTD)).view(B, T, H + 2 * G, K).split([H, G, G], dim=2)
    q = apply_rope(attn.q_norm(q).transpose(1, 2), cos, sin)  # (B, H, T, K)
    k = apply_rope(attn.k_norm(k).transpose(1, 2), cos, sin)  # (B, G, T, K)
    v = v.transpose(1, 2)
    if past is not None:
        k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, G, S, K)
    mask = masks[attn.window]
    if isinstance(mask, torch.Tensor):
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None], enable_gqa=True)
    else:  # a FlexAttention BlockMask: compiled on CUDA, eager (the slow reference) elsewhere
        y = (_flex() if q.is_cuda else flex_attention)(q, k, v, block_mask=mask, enable_gqa=True)
    x_BTD = x_BTD + attn.proj(y.transpose(1, 2).reshape(B, T, H * K))
    if block.is_moe:
        y, aux = block.ffn(block.ffn_norm(x_BTD))
    else:
        y, aux = block.ffn(block.ffn_norm(x_BTD)), None
    return x_BTD + y, aux, (k, v)


def run_step(model, x_BTD, pos_BT, masks, kv: list | None):
    """All layers over one block of new queries; `kv` (per layer (k, v), or None) grows by it.
    Returns the final normalised hidden states (B, T, D), the routers' aux loss and the new kv."""
    cos, sin = model._rope(pos_BT, int(pos_BT.max()) + 1)
    aux_total = x_BTD.new_zeros((), dtype=torch.float32)
    new_kv = []
    for i, block in enumerate(model.blocks):
        x_BTD, aux, layer_kv = _block(block, x_BTD, cos, sin, masks, kv[i] if kv is not None else None)
        new_kv.append(layer_kv)
        if aux is not None:
            aux_total = aux_total + aux
    return model.norm(x_BTD), aux_total, new_kv
