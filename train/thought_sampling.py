"""Sampling with thoughts (`thresher sample --thoughts show|hide`): before each new token the
model thinks one thought through its KV caches, the mixing head blends the post-thought prediction
with the plain one, and the caches are rewound to before the thought (train/quiet_star.py trains
the thoughts; this decodes with them)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from thresher.train.quiet_star import MixingHead, banned_ids


def _snapshot(caches, n: int) -> tuple:
    """What writing `n` more tokens into the caches would overwrite (a sliding-window layer's ring
    buffer reuses its oldest slots), and the document bookkeeping, so a thought can be taken back."""
    layers = []
    for c in caches:
        slots = c._slots(c.length, c.length + n)
        layers.append((c.length, slots, c.k[:, :, slots].clone(), c.v[:, :, slots].clone(), c.doc[:, slots].clone()))
    c0 = caches[0]
    return layers, (c0.next_doc.clone(), c0.doc_start.clone(), c0.prev_eos.clone(), c0.boundary)


def _rewind(caches, saved: tuple) -> None:
    layers, (next_doc, doc_start, prev_eos, boundary) = saved
    for c, (length, slots, k, v, doc) in zip(caches, layers):
        c.k[:, :, slots], c.v[:, :, slots], c.doc[:, slots] = k, v, doc
        c.length = length
    c0 = caches[0]
    c0.next_doc, c0.doc_start, c0.prev_eos, c0.boundary = next_doc, doc_start, prev_eos, boundary


@torch.no_grad()
def think_next(model, head: MixingHead, caches, h_base_D: torch.Tensor, logits_base_V: torch.Tensor,
               thought_len: int, markers: tuple[int, int], temperature: float = 1.0,
               gen: torch.Generator | None = None) -> tuple[torch.Tensor, list[int], float]:
    """Think once after the cached prefix, as training does at its last position: <|thought|>,
    `thought_len` sampled tokens (greedy at temperature 0), <|/thought|>; then mix. The thought is
    taken back out of the caches afterwards (later tokens never see it, as in training). Returns
    the mixed next-token log-probabilities (V,), the thought's tokens and the mixing weight."""
    dev = logits_base_V.device
    saved = _snapshot(caches, thought_len + 2)
    ban = torch.tensor(banned_ids(model, markers), device=dev)
    thought: list[int] = []
    token = markers[0]
    for _ in range(thought_len):
        logits = model(torch.tensor([[token]], device=dev), caches=caches)[0, -1].float()
        logits[ban] = float("-inf")
        if temperature <= 0:
            token = int(logits.argmax())
        else:
            token = int(torch.multinomial(torch.softmax(logits / temperature, -1).cpu(), 1, generator=gen))
        thought.append(token)
    model(torch.tensor([[token]], device=dev), caches=caches)
    h_post = model.hidden(torch.tensor([[markers[1]]], device=dev), caches=caches)[0][0, -1]
    _rewind(caches, saved)
    w = head(h_base_D, h_post)  # (1,)
    lp_post = F.log_softmax(model.lm_head(h_post).float(), -1)
    mixed = F.log_softmax(w * lp_post + (1 - w) * F.log_softmax(logits_base_V.float(), -1), -1)
    return mixed, thought, float(w)


@torch.no_grad()
def generate_with_thoughts(model, head: MixingHead, prompt: list[int], max_new: int, markers: tuple[int, int],
                           thought_len: int, *, show: bool = False, temperature: float = 1.0, top_k: int = 0,
                           top_p: float = 1.0, thought_temperature: float = 1.0, seed: int = 0,
                           stop_at_eos: bool = True) -> list[int]:
    """`train.sample.generate` with a thought before every token. `show`: the returned ids hold each
    thought between its markers before the token it led to; else only the spoken tokens."""
    from thresher.train.sample import opening, pick  # here: train.sample may import this module

    dev, eos = model.embed.weight.device, model.eos_id
    prompt = opening(model, prompt)
    gen = torch.Generator().manual_seed(seed)
    caches = model.new_caches(1, len(prompt) + max_new + thought_len + 2, dev, model.embed.weight.dtype)
    h = model.hidden(torch.tensor([prompt], device=dev), caches=caches)[0][0, -1]
    out: list[int] = []
    for _ in range(max_new):
        mixed, thought, _ = think_next(model, head, caches, h, model.lm_head(h), thought_len, markers,
                                       thought_temperature, gen)
        token = pick(mixed, temperature, top_k, top_p, gen)
        if stop_at_eos and token == eos:
            break
        if show:
            out += [markers[0], *thought, markers[1]]
        out.append(token)
        h = model.hidden(torch.tensor([[token]], device=dev), caches=caches)[0][0, -1]
    return out


# -- the training phase (train.quiet_star), from a pretrained checkpoint ---------------------------
