"""Quiet-STaR on a task where an intermediate step helps: does thinking beat not thinking, and what does it cost?

    python benchmarks/bench_quiet_star.py --seeds 0,1,2,3,4 --cache /tmp/qs    # CPU, tiny preset, pointer chasing, 2 hops
    python benchmarks/bench_quiet_star.py --task add --seeds 0,1,2,3,4 --cache /tmp/qs    # 3-digit addition
    python benchmarks/bench_quiet_star.py --task add --pretrain-only --digits 4 --pretrain 15000 --curve-every 1000

The tasks (benchmarks/quiet_star_tasks.py) write a problem as a fixed-length prompt ending in a
trigger token, then the answer; a fraction `--worked` of the training problems is written worked,
the intermediate step first between two ordinary bracket tokens: prompt, '(', step, ')', answer.
That is where the model learns what a useful intermediate looks like. Problems are packed into
windows as documents ending with EOS; the held-out problems never appear in training, plain or
worked, and are scored plain only (no bracket in the prompt): the plain model must answer directly,
the Quiet-STaR one may think.

`--task add` (the first task; `hops` is the default since it is where a thought has something to
add): `a+b=s` with `--digits`-digit numbers and the sum written most significant digit
first, so each digit of the sum depends on the carries coming from the digits to its right; worked,
the sum least significant digit first (the order its carries are computed in): 58+67=(521)125.
Held out: a + b with (a * 7 + b) % 10 == 0. `--task hops`: pointer chasing. A random permutation f
of `--symbols` symbols (the digit tokens), its table in a random order as `x>y` pairs, the query
`x?`, and the answer f^k(x) with k = `--hops`; worked, the k - 1 intermediate hops: with 4 symbols
and 2 hops '2>0,0>3,3>1,1>2,0?1$', worked '2>0,0>3,3>1,1>2,0?(3)1$'. One hop is an induction-style
lookup (a 2-layer circuit: a head that tags each target with its source, then a head that matches
the query), so the worked form, one hop per token, is within the tiny preset's two layers, while
two hops at once need a lookup of a lookup. Held out: the problems (function and start, whatever the
table's order) whose CRC-32 is 0 mod 10, so every symbol pair is seen in training and no held-out
problem is. For hops the loss skips the prompts (`--prompt-loss 0`: the random tables are noise
that drowned the answers' signal; the loss is on '(', the step, ')', the answer and EOS).

Protocol, per seed (each seed its own initial weights, training batches and held-out problems): the
tiny preset is pretrained plainly on the mix for `--pretrain` steps, printing its curve (mean train
loss; accuracy on plain and on worked problems of the training distribution; held-out answer loss
and accuracy every `--curve-every` steps). From that state one copy trains `--steps` more plain
steps, another `--steps` Quiet-STaR steps, on the same batches of the same mix (same lr and
schedule, interleaved step by step). Before its phase the Quiet-STaR copy's <|thought|> and
<|/thought|> embeddings are set to those of '(' and ')' (`init_thought_embeddings`; the paper starts
both markers from the embedding of '---'; the tiny preset ties its embeddings, so the output rows
follow). A thought is `--thought-len` tokens (default the worked step's length: digits + 1, or
hops - 1) and predicts the next `--n-future` tokens (default the answer's length: digits + 1, or
1), so the thought at the trigger ('=' or '?') sits exactly where a worked step would: the trigger
then '(' step ')' then the answer, at the same positions.

Accuracy is on the held-out problems' answer tokens, teacher-forced, each the greedy choice among
the task's symbols (after the trigger a model trained on both forms also expects '('); chance is
1 / symbols per token; a problem counts when every token of its answer is right. The Quiet-STaR
model is scored three ways: thinking before every token (each token after its own position's
greedy thought, mixed by the head, as `thresher sample --thoughts` decodes; also before the phase,
the pretrained model with its markers set and the fresh head), with one thought at
the trigger (the whole answer from that thought and its teacher-forced futures, as training scores
it), and with its thoughts hidden (its base predictions); for hops, one answer token, the first
two are the same. Beside them, as a diagnostic of what the thoughts carry whatever the trained head
makes of them, the thought at the trigger trusted fully (w = 1: the answer read from the prediction
after the thought alone), before the phase (the pretrained model with its markers set) and after
it. `thought = worked step` is the share of held-out problems whose greedy thought at the trigger
is exactly the worked step, before and after the phase, and after it among the problems the
model's own thoughts-hidden prediction gets wrong; a few such thoughts are printed per seed, with
the mixing weight at the trigger. The table gives each seed and the mean and sample standard
deviation over seeds. The cost factor is the median wall time of a Quiet-STaR step over a plain one
(the same batch, so per trained token), the two timed step by step in turn. The curve and the table
also give the held-out problems written worked by the model itself (from the prompt and '(' it
writes the step greedily, ')' is given, then the answer: step / answer accuracy), whether it can do
them in text; `--phase-worked` sets the continuation's worked fraction apart from the pretraining's
(default: the same). `--cache DIR` keeps each pretrained state for a rerun with the same arguments.

The sizes were chosen from the pretraining curves (the train ones, and the pretrained model's
held-out plain and self-written worked accuracy), never from the Quiet-STaR-vs-plain comparison.
Addition, 2 digits: after 6000 steps the plain held-out accuracy is 0.94-1.00 for seeds 0-2 (nothing
for a thought to add). 3 digits: the train loss sits on a plateau (1.25-1.35 nats) and drops in one
transition (near steps 4000-5500, 2500-3000, 2500-3500, 1000-2000 and 2500-3500 for seeds 0-4; the
train accuracy on plain and on worked problems rises in the same transition, not first for the
worked form); 10000 steps (lr 3e-3, warmup 100) pass it with room for all five, whose train loss
ends at 0.956-0.959, within 0.005 of where it was 2000 steps earlier. 4 digits: at step 10000 of a
15000-step run seed 0 answered 0.91 of plain train problems but 0.02 of worked ones (the worked form
not learned), so there would be no worked step for a thought to reuse. The continuation's 300 steps
(lr 2e-3, not tuned) come from a probe of 600 Quiet-STaR steps on seed 0 whose train lines alone
were read (stopped at step 350): the mixing weight (mean over all positions) fell 0.024 -> 0.0085 ->
0.0058 at steps 50 / 100 / 200 and stayed there, the train future NLL with thoughts within 0.0005
nats of the one without from step 100. Note the addition's held-out split is by units digits:
(a * 7 + b) % 10 == 0 holds exactly when the units digit of b is 3 x that of a (mod 10), so those
10 of the 100 units-digit pairs never reach training and both forms must add an unseen pair in
their first column.
Hops (aim: held-out plain clearly low, < 0.6, with the self-written worked form high, > 0.9; seed 0's
curves unless said, chance 1/8 or 1/6): 8 symbols, 50% worked, batch 8, lr 3e-3, the loss on every
token: after 10000 steps the self-written first hop was at chance for 2 hops (0.09-0.16) and for 3
(0.01-0.07 for the two-token step), plain 0.23 / 0.25 (the train loss fell only on the tables'
predictable tokens); the same with the loss on the answers only (`--prompt-loss 0`), 2 hops: the
first hop still at chance (0.07-0.16) at step 9500, loss spikes to 2.3 nats. 6 symbols, 2 hops, 90%
worked (so most problems carry the two learnable one-hop lookups), batch 16, answers-only loss:
with lr 3e-3 no lookup by step 4500 (first hop 0.13-0.19, loss spikes to 2.3; stopped); with lr 1e-3
the loss drops from 0.79 to 0.26 nats between steps 1500 and 6000 (first hop 0.19 -> 0.73), then
creeps to 0.23 at step 10000: first hop 0.794, answer after its own hop 0.635, held-out plain
0.331 (0.37 on training problems). So the defaults (6 symbols, 2 hops, 90% worked, batch 16, seq_len
96, lr 1e-3, warmup 100, 10000 steps, the continuation's lr 1e-3 as the pretraining's since 3e-3
was unstable, 300 steps as for addition) reach a state where writing the hop beats answering
directly (0.64 vs 0.33) but not the aimed-for > 0.9; a longer pretraining did not fit the time
available (10000 steps took 989 s at load 3.5-4.5). Pretrained with these defaults afterwards,
seeds 1-4 did reach it: held-out plain 0.323 / 0.292 / 0.253 / 0.359, self-written worked answer
1.000 / 1.000 / 0.990 / 1.000 (seed 0's transition was the slowest). A probe left running by
mistake (seed 0, 50% worked, batch 32, lr 3e-3, 8000 steps; it finished after the choice, so it
played no part in it) got there too: loss transition at steps 5000-7500, worked 0.997, plain 0.383.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
from thresher.train.config import QuietStarConfig, TrainConfig
from thresher.train.model import Transformer
from thresher.train.moe import update_bias
from thresher.train.optim import build_optimizer
from thresher.train.presets import build_config
from thresher.train.quiet_star import MixingHead, init_thought_embeddings, quiet_star_forward, train_step

sys.path.insert(0, str(Path(__file__).parent))
from common import interleaved, load_average  # noqa: E402
from quiet_star_tasks import (CLOSE, END, EOS, OPEN, START, VOCAB, Addition, Hops, decode, scored_problems,  # noqa: E402
                              symbol_argmax, windows, without_prompts)

DIGITS = 3  # the default task sizes (see the module doc)
HOPS = {"symbols": 6, "hops": 2}
WARMUP = 100  # steps of the pretraining's warmup
# per task, the defaults of the flags left unset, chosen from the pretraining curves, not from the comparison (see
# the module doc); add: steps long enough to pass the loss curve's transition for every seed
DEFAULTS = {"add": {"pretrain": 10000, "worked": 0.5, "seq_len": 64, "prompt_loss": 1, "batch": 8, "lr": 3e-3,
                    "phase_lr": 2e-3},
            "hops": {"pretrain": 10000, "worked": 0.9, "seq_len": 96, "prompt_loss": 0, "batch": 16, "lr": 1e-3,
                     "phase_lr": 1e-3}}


def accuracy(pred_BT: torch.Tensor, y_BT: torch.Tensor, owner: np.ndarray) -> tuple[float, float]:
    """(answer-token accuracy, whole-problem accuracy)."""
    ok = (pred_BT == y_BT).numpy()
    mask = owner >= 0
    digits = float(ok[mask].mean())
    problems = [ok[r][owner[r] == k].all() for r in range(owner.shape[0]) for k in set(owner[r][mask[r]].tolist())]
    return digits, float(np.mean(problems))


@torch.no_grad()
def worked_accuracy(task, model, specs: list) -> tuple[float, float]:
    """(worked step, answer) problem accuracy of the worked form written by the model itself: from the
    prompt and '(' it writes the step greedily (each token the most likely symbol), ')' is given, then
    it writes the answer the same way after its own step; a problem counts when every token of its
    written worked step (resp. of its answer after the bracket) is right. Whether the model can do the
    task in text."""
    model.eval()
    full = torch.tensor([task.problem(spec, worked=True) for spec in specs])  # (N, worked length) ending in EOS
    start = task.prompt_len + 1  # the first token after '('
    close = start + task.step_len  # the index of ')'
    x = full[:, :start]
    while x.shape[1] < full.shape[1] - 1:
        if x.shape[1] == close:
            nxt = torch.full((x.shape[0],), CLOSE)
        else:
            nxt = torch.cat([symbol_argmax(task, model(x[s:s + 256])[:, -1]) for s in range(0, x.shape[0], 256)])
        x = torch.cat([x, nxt[:, None]], 1)
    model.train()
    step = (x[:, start:close] == full[:, start:close]).all(1)
    total = (x[:, close + 1:] == full[:, close + 1:-1]).all(1)
    return float(step.float().mean()), float(total.float().mean())


class Trusted(torch.nn.Module):
    """A mixing head that always answers w = 1: the prediction after the thought alone (a diagnostic
    of what the thoughts carry, whatever the trained head makes of them)."""

    def forward(self, h_base: torch.Tensor, h_thought: torch.Tensor) -> torch.Tensor:
        return torch.ones(*h_base.shape[:-1], 1)


@torch.no_grad()
def evaluate(task, model, head, qc, rows, owner, think: str = "") -> tuple[float, float]:
    """Held-out (token, problem) accuracy, teacher-forced, each answer token the greedy choice among the
    task's symbols.
    `think`: "" the plain prediction; "every" each target after its own position's greedy thought
    (thinking before every token, as `thresher sample --thoughts` does); "at_equals" the whole sum
    from the one thought at the trigger ('=', '?') and its teacher-forced futures (needs n_future >= the
    answer's length)."""
    model.eval()
    x, y = torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:])
    preds = []
    for s in range(0, x.shape[0], 16):
        xb, yb = x[s:s + 16], y[s:s + 16]
        pred = symbol_argmax(task, model(xb))
        if think:
            out = quiet_star_forward(model, head, qc.model_copy(update={"n_thoughts": 1}), xb, yb, (START, END),
                                     greedy=True)
            mixed = symbol_argmax(task, out.mixed_logp[:, 0])  # (B, P, F): the symbol after the thought at at[p], then j more
            if think == "every":
                pred[:, out.at] = mixed[:, :, 0]
            else:
                T, slot = xb.shape[1], {int(i): p for p, i in enumerate(out.at)}
                for b, i in (xb == task.trigger).nonzero().tolist():
                    for j in range(qc.n_future if i in slot else 0):
                        if i + j < T:
                            pred[b, i + j] = mixed[b, slot[i], j]
        preds.append(pred)
    model.train()
    return accuracy(torch.cat(preds), y, owner)


@torch.no_grad()
def thoughts_at_trigger(task, model, head, qc, rows, owner, n_show: int) -> dict:
    """The greedy thought at the trigger ('=', '?') of each held-out problem whose answer lies in its
    row: how often it is the worked step, the same among the problems whose answer the model's own
    plain prediction gets wrong (where a thought could help), the mixing weight at the trigger (mean
    over the futures), and the first `n_show` decoded ('123+456=' -> thought '9750' -> predicted '0579')."""
    model.eval()
    x = torch.from_numpy(rows[:, :-1])
    same, weights, shown, base_wrong = [], [], [], []
    q1 = qc.model_copy(update={"n_thoughts": 1})
    n, start = task.answer_len, task.prompt_len + 1
    for s in range(0, x.shape[0], 16):
        xb = x[s:s + 16]
        yb = torch.from_numpy(rows[s:s + 16, 1:])
        out = quiet_star_forward(model, head, q1, xb, yb, (START, END), greedy=True)
        base = symbol_argmax(task, model(xb))  # (B, T) the plain prediction
        slot = {int(i): p for p, i in enumerate(out.at)}
        for b, i in (xb == task.trigger).nonzero().tolist():
            if i not in slot or owner[s + b, i] < 0:  # only problems that are scored
                continue
            prompt = xb[b, i + 1 - task.prompt_len:i + 1].tolist()
            step = decode(task.problem(task.parse(prompt), worked=True)[start:start + task.step_len])
            answer = decode(rows[s + b, i + 1:i + 1 + n].tolist())
            thought = decode(out.tokens[b, 0, slot[i]].tolist())
            same.append(thought == step)
            base_wrong.append(bool((base[b, i:i + n] != yb[b, i:i + n]).any()))
            weights.append(float(out.weight[b, 0, slot[i]].mean()))
            if len(shown) < n_show:
                said = decode(symbol_argmax(task, out.mixed_logp[b, 0, slot[i]]).tolist())[:n]
                shown.append(f"{decode(prompt)} thought {thought!r} (worked step {step}) -> {said} (true {answer})")
    model.train()
    wrong = [t for t, w in zip(same, base_wrong) if w]
    return {"same": float(np.mean(same)), "w_equals": float(np.mean(weights)), "shown": shown,
            "base_wrong": len(wrong), "same_if_wrong": float(np.mean(wrong)) if wrong else float("nan")}


def plain_step(model, opts, scheds, x, y, grad_clip: float) -> float:
    loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    for o in opts:
        o.step()
        o.zero_grad(set_to_none=True)
    for s in scheds:
        s.step()
    for r in model.routers():
        update_bias(r, model.cfg.bias_update_rate, r.tokens_per_expert)
    return float(loss.detach())


@torch.no_grad()
def answer_loss(model, rows, owner) -> float:
    """Mean cross-entropy (nats) of the held-out answer digits: the pretraining curve's held-out figure."""
    model.eval()
    x, y = torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:])
    mask = torch.from_numpy(owner >= 0)
    total, n = 0.0, 0
    for s in range(0, x.shape[0], 16):
        logp = torch.log_softmax(model(x[s:s + 16]).float(), -1)
        nll = -logp.gather(-1, y[s:s + 16, :, None])[..., 0]
        total += float(nll[mask[s:s + 16]].sum())
        n += int(mask[s:s + 16].sum())
    model.train()
    return total / max(n, 1)


def pretrain(a, seed: int, test_rows, test_owner, seen_rows, seen_owner) -> tuple[Transformer, list[dict], float]:
    """The tiny preset trained plainly for `a.pretrain` steps from `seed` on the mix of plain and
    worked problems; the curve (train loss as the mean of the last `a.curve_every` steps, accuracy on
    plain problems of the training distribution (`seen_rows`) and on worked ones (worked step and
    sum), held-out answer loss and accuracy) and the wall time. With `--cache` a finished
    pretraining is saved and read back (same arguments, same state)."""
    key = (f"v2-s{seed}-{a.task.key()}{'' if a.prompt_loss else '-np'}-k{a.worked:g}-T{a.seq_len}-b{a.batch}-n{a.pretrain}-lr{a.lr:g}-w{a.warmup}-"
           f"{a.schedule}-t{a.threads}")
    cached = Path(a.cache) / f"pretrain-{key}.pt" if a.cache else None
    torch.manual_seed(seed)
    model = Transformer(build_config("tiny", VOCAB, {"seq_len": a.seq_len}), eos_id=EOS)
    if cached is not None and cached.is_file():
        blob = torch.load(cached, weights_only=False)
        model.load_state_dict(blob["model"])
        return model, blob["curve"], blob["seconds"]
    rng = np.random.default_rng(seed)
    task = a.task
    worked_rows = windows(task, np.random.default_rng(40_000 + seed), a.eval_rows, a.seq_len, False, worked=1.0)
    specs = scored_problems(task, test_rows, test_owner)  # the held-out problems, for the worked form
    pre_tc = TrainConfig(preset="tiny", steps=a.pretrain, lr=a.lr, warmup_steps=a.warmup, batch_size=a.batch,
                         schedule=a.schedule)
    opt, sched = build_optimizer(model, pre_tc, torch.device("cpu"))
    curve, losses, t0 = [], [], time.perf_counter()
    for step in range(1, a.pretrain + 1):
        x, y = train_batch(a, rng, a.worked)
        losses.append(plain_step(model, [opt], [sched], x, y, 1.0))
        if step % a.curve_every == 0 or step == a.pretrain:
            acc = evaluate(task, model, None, None, test_rows, test_owner)
            seen = evaluate(task, model, None, None, seen_rows, seen_owner)
            seen_worked = evaluate(task, model, None, None, *worked_rows)
            held_step, held_worked = worked_accuracy(task, model, specs)
            curve.append({"step": step, "train_loss": float(np.mean(losses)), "max_train_loss": float(np.max(losses)),
                          "train_problem": seen[1], "train_worked": seen_worked[1],
                          "answer_loss": answer_loss(model, test_rows, test_owner),
                          "digit": acc[0], "problem": acc[1], "held_step": held_step, "held_worked": held_worked})
            losses = []
            c = curve[-1]
            print(f"  seed {seed} pretrain step {step}: train loss {c['train_loss']:.4f} (max {c['max_train_loss']:.3f}), "
                  f"{curve_text(c)}", flush=True)
    seconds = time.perf_counter() - t0
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "curve": curve, "seconds": seconds}, cached.with_suffix(".tmp"))
        cached.with_suffix(".tmp").rename(cached)
    return model, curve, seconds


def train_batch(a, rng: np.random.Generator, worked: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of `a.batch` training windows, a fraction `worked` of their problems worked; without
    `a.prompt_loss` the prompts' targets are IGNORE (the loss is on what follows the trigger)."""
    rows, _ = windows(a.task, rng, a.batch, a.seq_len, test=False, worked=worked)
    y = rows[:, 1:] if a.prompt_loss else without_prompts(a.task, rows)
    return torch.from_numpy(rows[:, :-1]), torch.from_numpy(y)


def phase_batches(a, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The continuation's `a.steps` (x, y) batches, the same for both copies: new training problems, a
    fraction `a.phase_worked` of them worked (the pretraining's `a.worked` when it is None)."""
    rng = np.random.default_rng(20_000 + seed)
    worked = a.worked if a.phase_worked is None else a.phase_worked
    return [train_batch(a, rng, worked) for _ in range(a.steps)]


def compare(a, seed: int, model, test_rows, test_owner) -> dict:
    """From the pretrained `model`: one copy `a.steps` more plain steps, another `a.steps` Quiet-STaR
    steps (its thought markers started from the bracket tokens) on the same batches of the same mix
    (same lr and schedule), interleaved step by step; accuracies, the thoughts at the trigger and the
    median step times."""
    task = a.task
    qc = QuietStarConfig(thought_len=a.thought_len, n_thoughts=a.n_thoughts, n_future=a.n_future, every=a.every,
                         init_markers_from=(OPEN, CLOSE))
    tc = TrainConfig(preset="tiny", steps=a.steps, lr=a.phase_lr, warmup_steps=10, batch_size=a.batch, schedule="cosine")
    batches = phase_batches(a, seed)

    plain = copy.deepcopy(model)
    p_opt, p_sched = build_optimizer(plain, tc, torch.device("cpu"))
    think = copy.deepcopy(model)
    init_thought_embeddings(think, (START, END), qc.init_markers_from)  # '(' and ')', as the paper's '---'
    torch.manual_seed(seed)
    head = MixingHead(think.cfg.d_model)
    opts = [build_optimizer(think, tc, torch.device("cpu")), build_optimizer(head, tc, torch.device("cpu"))]
    gen = torch.Generator().manual_seed(seed)
    before = thoughts_at_trigger(task, think, head, qc, test_rows, test_owner, 0)["same"]
    trusted_before = evaluate(task, think, Trusted(), qc, test_rows, test_owner, "at_equals")  # the pretrained thought
    thinking_before = evaluate(task, think, head, qc, test_rows, test_owner, "every")  # markers set, the head fresh
    mix = []

    def think_step(k: int) -> dict:
        x, y = batches[k]
        out, _ = train_step(think, head, qc, [o for o, _ in opts], [s for _, s in opts], (x, y, None), (START, END),
                            1.0, gen)
        mix.append(out.parts.get("mix_weight", float("nan")))
        if (k + 1) % 50 == 0:
            print(f"  seed {seed} quiet-star step {k + 1}: " + ", ".join(f"{n} {v:.4f}" for n, v in out.parts.items()),
                  flush=True)
        return out.parts

    # the two continuations step by step, interleaved, so the machine's load hits both alike
    timed = interleaved({"plain": lambda k: plain_step(plain, [p_opt], [p_sched], *batches[k], 1.0),
                         "quiet-star": think_step}, a.steps)
    seen = thoughts_at_trigger(task, think, head, qc, test_rows, test_owner, a.show)
    return {"seed": seed, "pretrained": evaluate(task, model, None, None, test_rows, test_owner),
            "worked_pre": worked_accuracy(task, model, scored_problems(task, test_rows, test_owner)),
            "plain": evaluate(task, plain, None, None, test_rows, test_owner),
            "thinking": evaluate(task, think, head, qc, test_rows, test_owner, "every"),
            "at_equals": evaluate(task, think, head, qc, test_rows, test_owner, "at_equals"),
            "trusted": evaluate(task, think, Trusted(), qc, test_rows, test_owner, "at_equals"),
            "trusted_before": trusted_before, "thinking_before": thinking_before,
            "hidden": evaluate(task, think, head, qc, test_rows, test_owner),
            "same_before": before, "same": seen["same"], "w_equals": seen["w_equals"], "shown": seen["shown"],
            "base_wrong": seen["base_wrong"], "same_if_wrong": seen["same_if_wrong"],
            "t_plain": timed["plain"][0], "t_think": timed["quiet-star"][0],
            "mix_first": mix[0] if mix else float("nan"), "mix_last": mix[-1] if mix else float("nan")}


def _mean_sd(values: list[float]) -> str:
    """'0.912 ± 0.021' (mean and sample standard deviation); the value alone for one seed."""
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line, its task (`a.task`) built and the task's defaults filled in; a bad value is
    an argparse error that names the flag."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=sorted(DEFAULTS), default="hops", help="see the module doc")
    ap.add_argument("--digits", type=int, default=DIGITS, help="add: digits of each number")
    ap.add_argument("--symbols", type=int, default=HOPS["symbols"], help="hops: symbols in the table (2-10)")
    ap.add_argument("--hops", type=int, default=HOPS["hops"], help="hops: steps of the chase (>= 2)")
    ap.add_argument("--worked", type=float, default=None, help="fraction of training problems in the worked form")
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--prompt-loss", type=int, choices=(0, 1), default=None,
                    help="1: the loss covers every token; 0: only what follows each prompt's trigger")
    ap.add_argument("--pretrain", type=int, default=None, help="steps of the pretraining")
    ap.add_argument("--lr", type=float, default=None, help="peak lr of the pretraining")
    ap.add_argument("--warmup", type=int, default=WARMUP, help="warmup steps of the pretraining")
    ap.add_argument("--schedule", default="cosine", help="lr schedule of the pretraining")
    ap.add_argument("--curve-every", type=int, default=500, help="steps per point of the pretraining curve")
    ap.add_argument("--pretrain-only", action="store_true", help="print the pretraining curves and stop")
    ap.add_argument("--cache", default="", help="folder for pretrained states (reused by a rerun with the same arguments)")
    ap.add_argument("--steps", type=int, default=300, help="of the compared continuations (see the module doc)")
    ap.add_argument("--phase-worked", type=float, default=None,
                    help="fraction of worked problems in the compared continuations (default: --worked)")
    ap.add_argument("--phase-lr", type=float, default=None, help="of the compared continuations")
    ap.add_argument("--thought-len", type=int, default=0, help="0: the worked step's length")
    ap.add_argument("--n-thoughts", type=int, default=2)
    ap.add_argument("--n-future", type=int, default=0, help="0: the answer's length")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--eval-rows", type=int, default=128)
    ap.add_argument("--show", type=int, default=5, help="sample thoughts printed per seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated; each seed its own init, batches and test set")
    a = ap.parse_args(argv)
    for name, v in DEFAULTS[a.task].items():
        if getattr(a, name) is None:
            setattr(a, name, v)
    for name, v in (("--worked", a.worked), ("--phase-worked", a.phase_worked)):
        if v is not None and not 0 <= v <= 1:
            ap.error(f"{name} is a fraction of the training problems, between 0 and 1, got {v}")
    if a.task == "hops" and not 2 <= a.symbols <= 10:
        ap.error(f"--symbols: the table's symbols are the ten digit tokens, so 2 to 10, got {a.symbols}")
    if a.task == "hops" and a.hops < 2:
        ap.error(f"--hops: one hop has no intermediate step to write or think, so 2 or more, got {a.hops}")
    if a.task == "add" and a.digits < 1:
        ap.error(f"--digits: 1 or more, got {a.digits}")
    a.task = Addition(a.digits) if a.task == "add" else Hops(a.symbols, a.hops)
    longest = a.task.prompt_len + a.task.step_len + a.task.answer_len + 3  # '(' ')' and EOS
    if a.seq_len < longest:
        ap.error(f"--seq-len {a.seq_len} is shorter than one worked problem of the task ({longest} tokens)")
    a.thought_len = a.thought_len or a.task.step_len
    a.n_future = a.n_future or a.task.answer_len
    return a


def curve_text(c: dict) -> str:
    """A pretraining curve point's accuracies, as the curve and the seed's summary print them."""
    return (f"train problems {c['train_problem']:.3f} (worked {c['train_worked']:.3f}); held-out answer loss "
            f"{c['answer_loss']:.4f}, token {c['digit']:.3f}, problem {c['problem']:.3f}; held-out worked, "
            f"self-written: step {c['held_step']:.3f}, answer {c['held_worked']:.3f}")


def run_seed(a, seed: int) -> dict | None:
    """Pretrain (or read the cache) and print the curve's last point; then, unless `--pretrain-only`, the
    comparison, printed per seed."""
    T, task = a.seq_len, a.task
    test_rows, test_owner = windows(task, np.random.default_rng(10_000 + seed), a.eval_rows, T, test=True)
    seen_rows, seen_owner = windows(task, np.random.default_rng(30_000 + seed), a.eval_rows, T, test=False)
    model, curve, seconds = pretrain(a, seed, test_rows, test_owner, seen_rows, seen_owner)
    last = curve[-1]
    print(f"seed {seed}: pretrained {a.pretrain} steps in {seconds:.0f} s; train loss {last['train_loss']:.4f}, "
          f"{curve_text(last)} ({load_average()})", flush=True)
    if a.pretrain_only:
        return None
    t0 = time.perf_counter()
    r = compare(a, seed, model, test_rows, test_owner)
    r["n_problems"] = int(sum(len(set(row[row >= 0].tolist())) for row in test_owner))
    print(f"seed {seed}: pretrained {r['pretrained']}, worked form self-written (step, answer) {r['worked_pre']}; "
          f"plain {r['plain']}, thinking {r['thinking_before']} -> {r['thinking']}, at the trigger {r['at_equals']}, "
          f"at the trigger trusted {r['trusted_before']} -> {r['trusted']}, "
          f"hidden {r['hidden']}; thought = worked step {r['same_before']:.3f} -> {r['same']:.3f} "
          f"({r['same_if_wrong']:.3f} of the {r['base_wrong']} problems its plain prediction gets wrong); "
          f"cost {r['t_think'] / r['t_plain']:.1f}x; {time.perf_counter() - t0:.0f} s ({load_average()})",
          flush=True)
    for line in r["shown"]:
        print(f"  {line}")
    return r


def print_table(a, results: list[dict]) -> None:
    """The comparison's markdown table, one row per seed and the mean ± sd, then the differences."""
    qc = f"thought_len {a.thought_len}, n_thoughts {a.n_thoughts}, n_future {a.n_future}, every {a.every}"
    mix = "the same mix" if a.phase_worked is None else f"a mix {a.phase_worked:.0%} worked"
    print(f"\n{results[0]['n_problems']} held-out plain problems (seed {results[0]['seed']}); then {a.steps} more "
          f"steps on {mix}, plain or Quiet-STaR ({qc}), lr {a.phase_lr:g}")
    print("held-out accuracy, answer token / problem (teacher-forced, greedy among the symbols); thought = worked "
          "step: share of the greedy thoughts at the trigger that are the worked step, at the phase's start -> end "
          "(at the end, among the problems its own thoughts-hidden prediction gets wrong); "
          "cost = median Quiet-STaR step / plain step")
    cols = ("pretrained", "worked_pre", "plain", "thinking_before", "thinking", "at_equals", "hidden", "trusted_before",
            "trusted")
    print("| seed | pretrained | pretrained, worked form self-written (step / answer problems) | plain | "
          "Quiet-STaR, thinking, before the phase (fresh head) | after | Quiet-STaR, one thought at the trigger | Quiet-STaR, thoughts hidden | "
          "thought at the trigger trusted (w = 1), before the phase | after | "
          "thought = worked step | mix weight first -> last (at the trigger) | cost per token |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        cells = [f"{r[k][0]:.3f} / {r[k][1]:.3f}" for k in cols]
        print(f"| {r['seed']} | " + " | ".join(cells) + f" | {r['same_before']:.2f} -> {r['same']:.2f} "
              f"({r['same_if_wrong']:.2f} of {r['base_wrong']}) | {r['mix_first']:.3f} -> {r['mix_last']:.3f} "
              f"({r['w_equals']:.2f}) | {r['t_think'] / r['t_plain']:.1f}x |")
    cells = [f"{_mean_sd([r[k][0] for r in results])} / {_mean_sd([r[k][1] for r in results])}" for k in cols]
    costs = [r["t_think"] / r["t_plain"] for r in results]
    print("| mean ± sd | " + " | ".join(cells) + f" | {_mean_sd([r['same'] for r in results])} | "
          f"{_mean_sd([r['mix_last'] for r in results])} ({_mean_sd([r['w_equals'] for r in results])}) | "
          f"{np.median(costs):.1f}x (median) |")
    for k in ("thinking", "at_equals", "hidden", "trusted"):
        diff = [r[k][1] - r["plain"][1] for r in results]
        print(f"problem accuracy, Quiet-STaR {k} minus plain, per seed: " + ", ".join(f"{d:+.3f}" for d in diff)
              + f" (mean {_mean_sd(diff)})")


def main(argv=None) -> None:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    seeds = [int(s) for s in a.seeds.split(",")]
    print(f"task: {a.task.describe()}, {a.worked:.0%} of training problems worked; tiny preset, seq_len "
          f"{a.seq_len}, batch {a.batch}; pretraining {a.pretrain} steps, lr {a.lr:g}, warmup {a.warmup}, "
          f"{a.schedule}; seeds {seeds}", flush=True)
    results = [r for r in (run_seed(a, seed) for seed in seeds) if r is not None]
    if results:
        print_table(a, results)
    print(f"CPU, {a.threads} thread(s); {load_average()}")


if __name__ == "__main__":
    main()
