"""Quiet-STaR (Zelikman et al. 2024, arXiv 2403.09629): the model learns to think before each token.

At every position i of a training window (or every `every`-th one) the model samples `n_thoughts`
thoughts in parallel, each `<|thought|> t_1 .. t_L <|/thought|>`, then predicts the next `n_future`
true tokens after the thought (teacher-forced). A mixing head blends each post-thought prediction
with the plain one; the thoughts learn by REINFORCE, rewarded by how much more likely they made the
true future than the other thoughts at the same position did (their mean is the baseline):

    loss = base_weight * LM loss  +  nll_weight * NLL(true future | mixed)  +  reinforce_weight * REINFORCE

All positions think at once, each thought seeing its prefix and its own earlier tokens only (the
paper's diagonal attention: train/thought_attention.py, dense masks on CPU, FlexAttention on CUDA).
Sampling with thoughts is train/thought_sampling.py.

The start and end embeddings are the `<|thought|>` / `<|/thought|>` rows of the model's embedding,
so a Quiet-STaR checkpoint is an ordinary thresher checkpoint (the mixing head rides along in it) and
`thresher sample` loads it as it is. Legend: B batch, T window, P thinking positions, N thoughts per
position, S keys, D width, V vocabulary, G kv heads, K head dim.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from thresher.tokenizer.layout import load_layout
from thresher.tokenizer.reader import ShardError
from thresher.train import checkpoint as ckpt
from thresher.train.attention import doc_ids_from_eos, positions_in_document
from thresher.train.config import QuietStarConfig
from thresher.train.data import Batches, shard_facts
from thresher.train.distributed import setup, teardown
from thresher.train.metrics import MetricsLog
from thresher.train.model import IGNORE, Transformer
from thresher.train.moe import update_bias
from thresher.train.optim import build_optimizer, resume_schedule
from thresher.train.presets import from_dict
from thresher.train.thought_attention import run_step, step_masks, thinking_positions

from thresher.errors import ConfigError, StageError


class MixingHead(nn.Module):
    """w = sigmoid(MLP([h_base ; h_thought])) in [0, 1]: how far the post-thought prediction replaces
    the plain one. Starts near w = 0.1, so untrained thoughts barely disturb a pretrained model."""

    def __init__(self, d_model: int, hidden: int = 0):
        super().__init__()
        hidden = hidden or d_model
        self.net = nn.Sequential(nn.Linear(2 * d_model, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        with torch.no_grad():
            self.net[2].weight.mul_(0.1)
            self.net[2].bias.fill_(math.log(0.1 / 0.9))

    def forward(self, h_base: torch.Tensor, h_thought: torch.Tensor) -> torch.Tensor:
        """(..., D), (..., D) -> (..., 1) weights."""
        return torch.sigmoid(self.net(torch.cat([h_base, h_thought], dim=-1).float()))


@dataclass(frozen=True)
class Ranks:
    """The data-parallel ranks a batch is spread over: rank r holds rows r, r + W, r + 2W, ... of the
    global batch of W x B rows (as the shard reader deals windows), so the thoughts drawn for a row
    and the means the loss divides by do not depend on how many ranks share the batch."""

    rank: int = 0
    world: int = 1

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
        return t


@dataclass
class Thoughts:
    """One Quiet-STaR forward: the loss terms and what the tests and the evaluation look at."""

    loss: torch.Tensor  # the weighted sum: this rank's share (the ranks' shares add up to the global batch's loss)
    parts: dict[str, float]  # base, nll, reinforce, mix_weight (mean w), reward_std, future_plain: of the global batch
    tokens: torch.Tensor  # (B, N, P, L) sampled thought tokens
    at: torch.Tensor  # (P,) thinking positions
    mixed_logp: torch.Tensor  # (B, N, P, n_future, V) log-probabilities of the mixed prediction
    weight: torch.Tensor  # (B, N, P, n_future) the mixing head's w
    valid: torch.Tensor  # (B, P, n_future) bool: the future token exists in the same document
    counts: dict[str, float] = field(default_factory=dict)  # the global batch's scored base tokens and future pairs


@torch.no_grad()
def init_thought_embeddings(model, markers: tuple[int, int], sources: tuple[int, int]) -> None:
    """Start the <|thought|> / <|/thought|> embedding rows (`markers`) as copies of the rows of two
    ordinary tokens (`sources`), as the paper starts its start/end-of-thought embeddings from the
    embedding of "---" (the quiet-star code's `initial_start_token` / `initial_end_token`), so a
    fresh marker already means "an aside begins / ends" to the model. Only the input rows: with tied
    embeddings (one matrix) the output rows follow; untied output rows are left alone as the paper
    leaves them (the markers are never predicted, `banned_ids`). The paper also scales its marker
    embeddings by 100 for a faster lr on them; we do not."""
    V = model.embed.weight.shape[0]
    bad = [t for t in (*markers, *sources) if not 0 <= t < V]
    if bad:
        raise ConfigError(f"train.quiet_star.init_markers_from: token ids {bad} lie outside the vocabulary of {V}")
    for marker, source in zip(markers, sources):
        model.embed.weight[marker] = model.embed.weight[source]


def banned_ids(model, markers: tuple[int, int]) -> list[int]:
    """Tokens a thought may not contain: the two markers (a thought does not nest) and EOS (a
    sampled EOS would end the document in a cached forward)."""
    return [*markers, *([model.eos_id] if model.eos_id is not None else [])]


def _draw(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sampling: the token whose cumulative probability first reaches u, (..., V), (...)
    -> (...). By hand instead of torch.multinomial so that each row's draw comes from its own
    uniform number, whatever else shares the batch (multinomial's draws depend on the batch's shape)."""
    cdf = probs.cumsum(-1)
    tok = (cdf < (u * cdf[..., -1])[..., None]).sum(-1)  # a token of probability 0 is never chosen
    return tok.clamp(max=probs.shape[-1] - 1)


def quiet_star_forward(model, head: MixingHead, qc: QuietStarConfig, x_BT: torch.Tensor, y_BT: torch.Tensor,
                       markers: tuple[int, int], doc_BT: torch.Tensor | None = None,
                       greedy: bool = False, gen: torch.Generator | None = None, ranks: Ranks = Ranks()) -> Thoughts:
    """Quiet-STaR on a batch of windows (inputs x, targets y = x shifted by one, both (B, T)).
    `markers` are the ids of <|thought|> and <|/thought|>. `greedy` takes the argmax thought (the
    evaluation) instead of sampling at `qc.temperature`. With several `ranks` this is one rank's
    rows of a global batch: each mean divides by the global batch's count (all-reduced), so the
    returned loss is this rank's share, and the ranks' gradients summed are the global batch's."""
    B, T = x_BT.shape
    N, L, F_ = qc.n_thoughts, qc.thought_len, qc.n_future
    dev = x_BT.device
    if doc_BT is None:
        doc_BT = (doc_ids_from_eos(x_BT, model.eos_id) if model.eos_id is not None
                  else torch.zeros_like(x_BT))
    at = thinking_positions(T, qc.every, dev)  # (P,)
    P = at.shape[0]
    pos_BT = positions_in_document(doc_BT)

    # step 0: the plain forward over the window (its loss is the base LM loss)
    h0, aux, kv = run_step(model, model.embed(x_BT), pos_BT, step_masks(model, doc_BT, at, 0), None)
    logits0 = model.lm_head(h0).float()  # (B, T, V)
    base_sum = F.cross_entropy(logits0.flatten(0, 1), y_BT.flatten(), ignore_index=IGNORE, reduction="sum")

    # every thought of a row shares its base keys: (B, ...) -> (B*N, ...)
    kv = [(k.repeat_interleave(N, 0), v.repeat_interleave(N, 0)) for k, v in kv]
    doc_rep = doc_BT.repeat_interleave(N, 0)
    pos_at = pos_BT[:, at].repeat_interleave(N, 0)  # (B*N, P)
    start, end = markers
    ban = torch.tensor(banned_ids(model, markers), device=dev)
    # futures: the thought at i predicts y[i + j] from input x[i + j] (j >= 1 teacher-forced)
    j_F = torch.arange(F_, device=dev)
    idx_PF = (at[:, None] + j_F[None, :]).clamp(max=T - 1)  # (P, F)
    valid = (at[:, None] + j_F[None, :] < T)[None] & (doc_BT[:, idx_PF] == doc_BT[:, at, None])  # (B, P, F)
    valid = valid & (y_BT[:, idx_PF] != IGNORE)
    ys = torch.where(valid, y_BT[:, idx_PF], 0)  # (B, P, F)

    steps = L + 1 + F_  # <|thought|>, t_1..t_L, then <|/thought|> and the F-1 teacher-forced tokens
    if not greedy:  # one uniform number per (thought step, global row, thought, position); this rank's rows
        u = torch.rand(L, B * ranks.world, N, P, generator=gen, device=dev)[:, ranks.rank::ranks.world]
        u = u.clamp(min=torch.finfo(u.dtype).tiny).reshape(L, B * N, P)
    inp = torch.full((B * N, P), start, dtype=torch.long, device=dev)
    logp_thought = torch.zeros(B * N, P, device=dev)
    sampled, post = [], []
    for s in range(1, steps + 1):
        h, _, kv = run_step(model, model.embed(inp), pos_at + s, step_masks(model, doc_rep, at, s), kv)
        if s <= L:  # h predicts thought token t_s
            logits = model.lm_head(h).float() / qc.temperature
            logits[..., ban] = float("-inf")
            logp = F.log_softmax(logits, -1)
            with torch.no_grad():
                tok = logp.argmax(-1) if greedy else _draw(logp.exp(), u[s - 1])
            logp_thought = logp_thought + logp.gather(-1, tok[..., None])[..., 0]
            sampled.append(tok)
            inp = tok
        elif s == L + 1:  # the last thought token goes in; the end marker comes next
            inp = torch.full_like(inp, end)
        else:  # h (after <|/thought|> and the true tokens so far) predicts y[i + j]
            post.append(h)
            j = s - L - 2
            if j + 1 < F_:
                nxt = (at + j + 1).clamp(max=T - 1)
                inp = x_BT[:, nxt].repeat_interleave(N, 0)
    h_post = torch.stack(post, 2).view(B, N, P, F_, -1)  # (B, N, P, F, D)
    h_base = h0[:, idx_PF][:, None].expand(B, N, P, F_, -1)  # the plain state at i + j
    w = head(h_base, h_post)  # (B, N, P, F, 1)
    lp_base = F.log_softmax(logits0[:, idx_PF], -1)[:, None]  # (B, 1, P, F, V)
    lp_post = F.log_softmax(model.lm_head(h_post).float(), -1)
    mixed = F.log_softmax(w * lp_post + (1 - w) * lp_base, -1)  # (B, N, P, F, V)
    ll = mixed.gather(-1, ys[:, None, :, :, None].expand(B, N, P, F_, 1))[..., 0]  # (B, N, P, F)
    vmask = valid[:, None].float()  # (B, 1, P, F)
    thinks = valid[:, None, :, 0].float()  # positions with at least one future token
    # the global batch's counts: scored base targets, (thought, future token) pairs, thinking thoughts
    counts = ranks.sum(torch.stack([(y_BT != IGNORE).sum().float(), vmask.sum() * N, thinks.sum() * N]))
    n_base, n_valid, n_thinks = counts.clamp(min=1).unbind()
    base_loss = base_sum / n_base
    nll = -(ll * vmask).sum() / n_valid

    reward = (ll.detach() * vmask).sum(-1)  # (B, N, P): log-likelihood of the true future
    baseline = reward.mean(1, keepdim=True) if N > 1 else torch.zeros_like(reward)
    advantage = reward - baseline
    reinforce = -(advantage * logp_thought.view(B, N, P) * thinks).sum() / n_thinks

    # aux: the routers' losses are means over this rank's rows, as many on every rank
    loss = qc.base_weight * base_loss + qc.nll_weight * nll + qc.reinforce_weight * reinforce + aux / ranks.world
    with torch.no_grad():
        plain = -(lp_base[:, 0].gather(-1, ys[..., None])[..., 0] * valid).sum() * N / n_valid  # no thought
        shares = ranks.sum(torch.stack([base_loss, nll, reinforce, (w[..., 0] * vmask).sum() / n_valid, plain,
                                        torch.tensor(float(reward.numel()), device=dev), reward.sum(),
                                        reward.square().sum()]).detach())
    base, nll_all, rl, mix, plain, r_n, r_sum, r_sq = shares.tolist()
    r_var = (r_sq - r_sum * r_sum / r_n) / max(r_n - 1, 1)  # torch.std's unbiased variance, over the global batch
    parts = {"base": base, "nll": nll_all, "reinforce": rl, "mix_weight": mix, "reward_std": math.sqrt(max(r_var, 0.0)),
             "future_plain": plain}
    tokens = torch.stack(sampled, -1).view(B, N, P, L)
    return Thoughts(loss, parts, tokens, at, mixed, w[..., 0], valid,
                    {"base": float(counts[0]), "future": float(counts[1])})


# -- sampling with thoughts (thresher sample --thoughts show|hide) ---------------------------------

@dataclass
class PhaseResult:
    run_dir: Path
    step: int  # the last step trained
    records: list[dict] = field(default_factory=list)  # the logged metrics
    evals: list[dict] = field(default_factory=list)  # the held-out evaluations
    checkpoint: Path | None = None


def thought_markers(vocab_dir: str | Path | None) -> tuple[int, int]:
    """The ids of <|thought|> and <|/thought|> in the tokenizer's layout (vocab.json)."""
    if not vocab_dir or not (Path(vocab_dir) / "vocab.json").is_file():
        raise StageError("Quiet-STaR needs the tokenizer's vocab.json for the <|thought|> ids; the checkpoint "
                         "names no tokenizer folder (pass vocab_dir=WORKDIR/tokenizer)")
    markers = load_layout(vocab_dir).markers
    missing = [m for m in ("<|thought|>", "<|/thought|>") if m not in markers]
    if missing:
        raise StageError(f"{vocab_dir}/vocab.json has no {' '.join(missing)} marker; re-run the tokenizer stage")
    return markers["<|thought|>"], markers["<|/thought|>"]


def phase_train_config(tc, qc: QuietStarConfig):
    """The TrainConfig the optimizer and schedule are built from: train's, with the phase's steps, lr,
    warmup and batch size."""
    return tc.model_copy(update={"steps": qc.steps, "lr": qc.lr, "warmup_steps": qc.warmup_steps,
                                 "batch_size": qc.batch_size or tc.batch_size})


def all_reduce_grads(params: list, ranks: Ranks) -> None:
    """Sum the gradients over the data-parallel ranks, in one flat buffer. By hand rather than DDP:
    the forward runs the model's blocks step by step outside `Transformer.forward`, where DDP's
    reducer arms its hooks; and each rank's loss is already its share of the global mean."""
    if ranks.world == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.flatten() for g in grads])
    ranks.sum(flat)
    for g, part in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(part.view_as(g))


def train_step(model, head: MixingHead, qc: QuietStarConfig, optimizers: list, schedulers: list,
               batch: tuple, markers: tuple[int, int], grad_clip: float,
               gen: torch.Generator | None = None, ranks: Ranks = Ranks(), autocast=contextlib.nullcontext
               ) -> tuple[Thoughts, float]:
    """One optimizer step of Quiet-STaR on one batch (x, y, doc) (this rank's rows); returns the
    forward and the grad norm. The routers' balancing biases move as in the main loop (their counts,
    summed over the ranks, include the thought tokens)."""
    x, y, doc = batch
    with autocast():
        out = quiet_star_forward(model, head, qc, x, y, markers, doc, gen=gen, ranks=ranks)
    out.loss.backward()
    params = [*model.parameters(), *head.parameters()]
    all_reduce_grads(params, ranks)
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else math.inf)
    for o in optimizers:
        o.step()
        o.zero_grad(set_to_none=True)
    for s in schedulers:
        s.step()
    routers = model.routers()
    if routers:
        loads = ranks.sum(torch.stack([r.tokens_per_expert for r in routers]))
        for r, load in zip(routers, loads):
            update_bias(r, model.cfg.bias_update_rate, load)
    return out, float(norm)


@torch.no_grad()
def evaluate_phase(model, head: MixingHead, qc: QuietStarConfig, val: Batches, n_batches: int, markers,
                   kinds: dict, autocast, ranks: Ranks = Ranks()) -> dict:
    """Held-out windows: the plain validation loss of the main loop (`evaluate`) and, with greedy
    thoughts, the mixed prediction's NLL of the n_future tokens after each thought beside the plain
    model's NLL of the same tokens (thoughts help when the first is lower). Same on every rank."""
    from thresher.train.evaluate import evaluate

    ev = evaluate(model, val, n_batches, kinds, autocast)
    was_training = model.training
    model.eval()
    sums, n = {"val_future_thought": 0.0, "val_future_plain": 0.0}, 0.0
    for x, y, doc in val.first(n_batches):
        with autocast():
            out = quiet_star_forward(model, head, qc, x, y, markers, doc, greedy=True, ranks=ranks)
        sums["val_future_thought"] += out.parts["nll"] * out.counts["future"]
        sums["val_future_plain"] += out.parts["future_plain"] * out.counts["future"]
        n += out.counts["future"]
    model.train(was_training)
    return {**ev, **{k: v / max(n, 1) for k, v in sums.items()}, "val_future_pairs": int(n)}


def run_phase(tc, shards: Path, out: Path, *, start: str | Path | None = None, vocab_dir: str | Path | None = None,
              markers: tuple[int, int] | None = None, stop_at: int | None = None,
              echo: Callable[[str], None] = print) -> PhaseResult:
    """Train `tc.quiet_star` on the shards, starting from the checkpoint `start` (or
    `tc.quiet_star.init`), writing checkpoints and metrics.jsonl under `out`. A folder that already
    holds checkpoints of this phase resumes from its latest, exactly (the thoughts of step s are drawn
    from a generator seeded with s). `stop_at` ends early (the schedule still spans the phase's
    steps). Under torchrun the processes are data-parallel ranks (gloo on CPU, NCCL on CUDA, as
    train/distributed.py sets up): each reads its own `batch_size` windows, the gradients are summed
    (`all_reduce_grads`), rank 0 writes the checkpoints and metrics; no FSDP. `train.precision`
    selects bf16 autocast as in the main loop (auto: on CUDA). On CUDA it runs the dense-mask path: the
    FlexAttention one (`model.use_flex`) is switched on once it is checked on a GPU (each step's key
    length is another shape for torch.compile)."""
    import torch.distributed as dist

    qc = tc.quiet_star
    if qc is None:
        raise ConfigError("train.quiet_star: not set; give it {thought_len, n_thoughts, n_future, ...}")
    joined_before = dist.is_initialized()  # a caller that set up the group keeps it
    d = setup(tc.device)
    try:
        return _run_phase(tc, qc, Path(shards), Path(out), d, start, vocab_dir, markers, stop_at,
                          echo if d.is_main else (lambda _: None))
    finally:
        if d.active and not joined_before:
            teardown()


def _run_phase(tc, qc: QuietStarConfig, shards: Path, out: Path, d, start, vocab_dir, markers, stop_at,
               echo) -> PhaseResult:
    from thresher.train.loop import kind_ranges
    from thresher.train.sample import resolve  # here: train.sample may import this module

    facts = shard_facts(shards)
    ck_dir = out / "checkpoints"
    found = ckpt.latest(ck_dir)
    if found is None and not (start or qc.init):
        raise ConfigError("train.quiet_star.init: give the pretrained checkpoint (a file or a run folder) to start from")
    blob = ckpt.read(found or resolve(start or qc.init))
    if blob["fingerprint"] != facts["fingerprint"]:
        raise StageError(f"the checkpoint was trained on another vocabulary ({blob['fingerprint']}) than the shards "
                         f"in {shards} ({facts['fingerprint']})")
    if found is not None and "quiet_star" not in blob:
        raise StageError(f"{found} is not a Quiet-STaR checkpoint; choose another train.quiet_star.run")
    markers = markers or thought_markers(vocab_dir or blob.get("vocab_dir") or facts.get("vocab_dir"))
    device, ranks = d.device, Ranks(d.rank, d.world_size)
    if device.type == "cpu" and tc.threads:
        torch.set_num_threads(tc.threads)
    bf16 = tc.precision == "bf16" or (tc.precision == "auto" and device.type == "cuda")
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    mcfg = from_dict(blob["model_config"])
    if not all(0 <= m < mcfg.vocab_size for m in markers):
        raise StageError(f"thought marker ids {markers} lie outside the model's vocabulary of {mcfg.vocab_size}")
    seq_len = tc.seq_len or mcfg.seq_len
    if qc.every > seq_len:
        raise ConfigError(f"train.quiet_star.every: {qc.every} is longer than the window "
                          f"({seq_len} tokens), so no position would think")
    torch.manual_seed(tc.seed)
    model = Transformer(mcfg, eos_id=blob["eos_id"]).to(device)
    model.prepare(device.type, torch.bfloat16 if bf16 else torch.float32)
    head = MixingHead(mcfg.d_model, qc.mixer_hidden).to(device)
    ptc = phase_train_config(tc, qc)
    opt, sched = build_optimizer(model, ptc, device)
    head_opt, head_sched = build_optimizer(head, ptc, device)
    batches = Batches(shards, seq_len, ptc.batch_size, device, d.rank, d.world_size, seed=tc.seed,
                      fingerprint=facts["fingerprint"])
    try:  # the main loop's held-out windows
        val = Batches(shards, seq_len, ptc.batch_size, device, d.rank, d.world_size, split="val", shuffle=False,
                      fingerprint=facts["fingerprint"])
    except ShardError as e:
        echo(f"quiet-star: no evaluation ({e})")
        val = None
    step = 0
    if found is not None:
        batches.load_state_dict(ckpt.restore(blob, model, opt, sched, d.rank))
        head.load_state_dict(blob["quiet_star"]["head"])
        head_opt.load_state_dict(blob["quiet_star"]["head_optimizer"])
        head_sched.load_state_dict(blob["quiet_star"]["head_scheduler"])
        step = blob["step"]
        echo(f"quiet-star: resumed from {found.name} at step {step}")
        for changed in (resume_schedule(sched, ptc, step), resume_schedule(head_sched, ptc, step)):
            if changed:
                echo(changed)
    else:
        model.load_state_dict(blob["model"])
        if qc.init_markers_from:  # a fresh phase: the markers start from two ordinary tokens (a resume keeps them)
            init_thought_embeddings(model, markers, tuple(qc.init_markers_from))
    base_meta = {k: blob[k] for k in ("model_config", "fingerprint", "eos_id", "vocab_dir")}
    del blob

    kinds = kind_ranges(vocab_dir or base_meta.get("vocab_dir") or facts.get("vocab_dir"))
    log = MetricsLog(out / "metrics.jsonl", d.is_main, echo)
    result = PhaseResult(out, step)
    gen = torch.Generator(device=device)
    tokens_per_step = ptc.batch_size * seq_len * d.world_size
    t0, since = time.perf_counter(), 0
    model.train()
    last = stop_at if stop_at is not None else qc.steps
    for step in range(step + 1, last + 1):
        gen.manual_seed(tc.seed * 1_000_003 + step)  # the same on every rank: each takes its rows' draws
        thoughts, norm = train_step(model, head, qc, [opt, head_opt], [sched, head_sched], batches.next(), markers,
                                    tc.grad_clip, gen, ranks, autocast)
        since += 1
        if step % qc.log_every == 0 or step == last:
            elapsed = time.perf_counter() - t0
            loss = float(ranks.sum(thoughts.loss.detach().float().clone()))  # the shares add up to the global loss
            record = {"step": step, "loss": loss, **thoughts.parts, "grad_norm": norm,
                      "lr": sched.get_last_lr()[0], "tokens_per_s": tokens_per_step * since / elapsed}
            log.write(record)
            result.records.append(record)
            t0, since = time.perf_counter(), 0
        if val is not None and ((qc.eval_every and step % qc.eval_every == 0) or step == last):
            ev = {"event": "eval", "step": step,
                  **evaluate_phase(model, head, qc, val, tc.eval_batches, markers, kinds, autocast, ranks)}
            log.write(ev)
            result.evals.append(ev)
            t0 = time.perf_counter()
        if (qc.ckpt_every and step % qc.ckpt_every == 0) or step == last:
            meta = {**base_meta, "train_config": tc.model_dump(mode="json"),
                    "quiet_star": {"config": qc.model_dump(mode="json"), "markers": list(markers),
                                   "head": head.state_dict(), "head_optimizer": head_opt.state_dict(),
                                   "head_scheduler": head_sched.state_dict()}}
            result.checkpoint = ckpt.save(ck_dir, step, model, opt, sched, batches.state_dict(), meta,
                                          tc.keep_checkpoints, d.is_main)
            t0 = time.perf_counter()
        result.step = step
    return result


def load_head(blob: dict, d_model: int) -> tuple[MixingHead, QuietStarConfig, tuple[int, int]]:
    """The mixing head, the phase's config and the marker ids of a Quiet-STaR checkpoint (for
    `thresher sample --thoughts`); a StageError for a plain checkpoint."""
    qs = blob.get("quiet_star")
    if qs is None:
        raise StageError("this checkpoint was not trained with train.quiet_star; it has no thoughts to show")
    qc = QuietStarConfig(**qs["config"])
    head = MixingHead(d_model, qc.mixer_hidden)
    head.load_state_dict(qs["head"])
    return head.eval(), qc, tuple(qs["markers"])
