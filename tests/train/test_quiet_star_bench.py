"""The Quiet-STaR benchmark's task (benchmarks/bench_quiet_star.py): the worked form of an addition
carries right, the held-out problems never reach training in either form; and the thought markers'
embeddings start as copies of the bracket tokens' (train/quiet_star.py init_thought_embeddings)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from thresher.train.model import Transformer
from thresher.train.presets import build_config
from thresher.train.quiet_star import init_thought_embeddings

from thresher.errors import ConfigError

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_quiet_star.py"


def tasks():
    """The benchmark's neighbour quiet_star_tasks.py (importable while the `bench` fixture is)."""
    import quiet_star_tasks

    return quiet_star_tasks


def add(digits: int):
    return tasks().Addition(digits)


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH.parent))  # the benchmark imports its neighbours common.py and quiet_star_tasks.py
    try:
        spec = importlib.util.spec_from_file_location("bench_quiet_star", BENCH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH.parent))


def columns(a: int, b: int, digits: int) -> str:
    """The sum by hand, column by column from the right with its carry: 58 + 67 -> '521'."""
    out, carry = [], 0
    for k in range(digits):
        col = (a // 10 ** k) % 10 + (b // 10 ** k) % 10 + carry
        out.append(col % 10)
        carry = col // 10
    return "".join(map(str, out + [carry]))


def test_the_worked_step_is_the_sum_least_significant_digit_first_with_its_carries(bench):
    assert bench.decode(add(2).problem((58, 67), worked=True)) == "58+67=(521)125$"
    assert bench.decode(add(2).problem((58, 67))) == "58+67=125$"
    assert bench.decode(add(3).problem((999, 1), worked=True)) == "999+001=(0001)1000$"
    rng = np.random.default_rng(0)
    for digits in (2, 3):
        pairs = [(10 ** digits - 1, 10 ** digits - 1), (0, 0), (5, 5)] + \
            [tuple(int(v) for v in rng.integers(10 ** digits, size=2)) for _ in range(200)]
        for a, b in pairs:
            text = bench.decode(add(digits).problem((a, b), worked=True))
            m = re.fullmatch(r"(\d+)\+(\d+)=\((\d+)\)(\d+)\$", text)
            assert m and int(m[1]) == a and int(m[2]) == b, text
            assert m[3] == columns(a, b, digits) and m[4] == m[3][::-1] and int(m[4]) == a + b, text


def problems_in(bench, rows: np.ndarray) -> list[re.Match]:
    """Every whole problem of the rows (each row starts with one; the last may be cut off)."""
    found = []
    for row in rows:
        for piece in bench.decode(row.tolist()).split("$")[:-1]:
            m = re.fullmatch(r"(\d+)\+(\d+)=(\((\d+)\))?(\d+)", piece)
            assert m, piece
            found.append(m)
    return found


def test_held_out_problems_never_reach_training_plain_or_worked(bench):
    digits, T = 2, 64
    task = add(digits)
    rows, owner = bench.windows(task, np.random.default_rng(1), 400, T, test=False, worked=0.5)
    train = problems_in(bench, rows)
    worked = [m for m in train if m[3]]
    assert 0.4 < len(worked) / len(train) < 0.6  # both forms, about half each
    assert all(m[4] == m[5][::-1] and int(m[5]) == int(m[1]) + int(m[2]) for m in worked)
    seen = {(int(m[1]), int(m[2])) for m in train}
    assert not any(task.held_out(ab) for ab in seen)
    test_rows, test_owner = bench.windows(task, np.random.default_rng(2), 64, T, test=True)
    test = problems_in(bench, test_rows)
    assert test and not any(m[3] for m in test)  # held out: plain problems only
    unseen = {(int(m[1]), int(m[2])) for m in test}
    assert all(task.held_out(ab) for ab in unseen) and not unseen & seen
    # the scored targets are the digits after '=' (worked step and sum in a worked problem), whole answers only
    for r, o in ((rows, owner), (test_rows, test_owner)):
        for i in range(r.shape[0]):
            sums = [bench.decode(r[i, 1:][o[i] == k].tolist()) for k in sorted(set(o[i][o[i] >= 0].tolist()))]
            whole = [(m[4] or "") + m[5] for m in problems_in(bench, r[i:i + 1])]
            assert sums == whole[:len(sums)] and len(whole) - len(sums) <= 1


@pytest.mark.parametrize("tie", [True, False])
def test_the_thought_markers_start_as_the_brackets(tie):
    torch.manual_seed(0)
    model = Transformer(build_config("tiny", 32, {"seq_len": 16, "tie_embeddings": tie}), eos_id=2)
    start, end, open_, close = 5, 6, 22, 23
    out_before = model.lm_head.weight.detach().clone()
    assert not torch.equal(model.embed.weight[start], model.embed.weight[open_])
    init_thought_embeddings(model, (start, end), (open_, close))
    assert torch.equal(model.embed.weight[start], model.embed.weight[open_])
    assert torch.equal(model.embed.weight[end], model.embed.weight[close])
    others = [t for t in range(32) if t not in (start, end)]
    if tie:  # one matrix: the output rows are the input rows
        assert torch.equal(model.lm_head.weight[start], model.lm_head.weight[open_])
    else:  # the paper leaves the output rows alone (the markers are never predicted)
        assert torch.equal(model.lm_head.weight, out_before)
    assert torch.equal(model.lm_head.weight[others], out_before[others])
    with pytest.raises(ConfigError, match="init_markers_from"):
        init_thought_embeddings(model, (start, end), (open_, 32))


def test_a_fresh_phase_starts_its_markers_from_the_given_tokens(chain_shards, tmp_path):
    from thresher.train.config import QuietStarConfig, TrainConfig
    from thresher.train.loop import train
    from thresher.train.quiet_star import run_phase

    tc = TrainConfig(preset="tiny", steps=2, batch_size=2, seq_len=16, warmup_steps=0, eval_every=0, ckpt_every=0,
                     sample_tokens=0)
    pre = train(tc, chain_shards, tmp_path / "run", echo=lambda _: None)
    for init, same in ((None, False), ((40, 41), True)):
        # an lr of 1e-12: one step moves no weight by more than ~1e-11, so the rows are as the phase started them
        qc = QuietStarConfig(thought_len=2, n_thoughts=2, n_future=2, every=4, steps=1, lr=1e-12, warmup_steps=0,
                             init_markers_from=init)
        res = run_phase(tc.model_copy(update={"quiet_star": qc}), chain_shards, tmp_path / f"qs{same}",
                        start=pre.checkpoint, markers=(5, 6), echo=lambda _: None)
        w = torch.load(res.checkpoint, weights_only=False)["model"]["embed.weight"]
        gap = float((w[[5, 6]] - w[[40, 41]]).abs().max())
        assert (gap < 1e-9) if same else (gap > 1e-3), gap


@pytest.mark.parametrize("fraction", [0.0, 0.9, 1.0])
def test_the_worked_fraction_is_respected(bench, fraction):
    rows, _ = bench.windows(add(3), np.random.default_rng(3), 300, 64, test=False, worked=fraction)
    train = problems_in(bench, rows)
    share = sum(bool(m[3]) for m in train) / len(train)
    assert abs(share - fraction) < 0.03, share  # about 1,500 problems: the binomial sd is under 0.008


def test_a_worked_fraction_outside_0_1_is_refused(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--task", "add", "--worked", "1.5", "--pretrain-only"])
    assert "--worked" in capsys.readouterr().err


class Scripted(torch.nn.Module):
    """A stand-in model that writes worked problems 'a+b=(r)s': the true step and sum, or a wrong step
    (each digit + 1) with the true sum, or a wrong step copied reversed as the sum, for problems with
    `wrong(a, b)`. Logits one-hot on the next token at every position."""

    def __init__(self, bench, digits, how, wrong):
        super().__init__()
        self.bench, self.digits, self.how, self.wrong = bench, digits, how, wrong

    def forward(self, x):
        b_, d = self.bench, self.digits
        logits = torch.zeros(*x.shape, b_.VOCAB)
        for i, row in enumerate(x.tolist()):
            a, b = int(b_.decode(row[:d])), int(b_.decode(row[d + 1:2 * d + 1]))
            full = add(d).problem((a, b), worked=True)
            if self.wrong(a, b):
                step = [tasks().DIGIT + (t - tasks().DIGIT + 1) % 10 for t in full[2 * d + 3:3 * d + 4]]
                full[2 * d + 3:3 * d + 4] = step
                if self.how == "copy":
                    full[3 * d + 5:4 * d + 6] = step[::-1]
            logits[i, -1, full[len(row)]] = 1.0
        return logits


def test_the_self_written_worked_form_is_scored_on_the_step_and_on_the_sum_after_the_bracket(bench):
    digits = 3
    task = add(digits)
    test_rows, test_owner = bench.windows(task, np.random.default_rng(4), 16, 64, test=True)
    pairs = bench.scored_problems(task, test_rows, test_owner)
    assert len(pairs) == int(sum(len(set(r[r >= 0].tolist())) for r in test_owner))
    for i in range(test_rows.shape[0]):  # row by row, the problems in order (the last may not be scored)
        here = bench.scored_problems(task, test_rows[i:i + 1], test_owner[i:i + 1])
        whole = [(int(m[1]), int(m[2])) for m in problems_in(bench, test_rows[i:i + 1])]
        assert here and here == whole[:len(here)]
    assert all(task.held_out(ab) for ab in pairs)
    odd = [a % 2 == 1 for a, _ in pairs]
    assert 0 < sum(odd) < len(pairs)
    right = Scripted(bench, digits, "right", lambda a, b: False)
    assert bench.worked_accuracy(task, right, pairs) == (1.0, 1.0)
    some = 1 - np.mean(odd)
    wrong_step = Scripted(bench, digits, "right", lambda a, b: a % 2 == 1)
    assert bench.worked_accuracy(task, wrong_step, pairs) == pytest.approx((some, 1.0))
    copied = Scripted(bench, digits, "copy", lambda a, b: a % 2 == 1)
    assert bench.worked_accuracy(task, copied, pairs) == pytest.approx((some, some))


def test_the_continuation_mix_defaults_to_the_pretraining_one(bench):
    from types import SimpleNamespace

    def share(**kw):
        batches = bench.phase_batches(SimpleNamespace(steps=40, batch=8, seq_len=64, task=add(3), prompt_loss=1, **kw), 0)
        assert len(batches) == 40 and torch.equal(batches[0][0][:, 1:], batches[0][1][:, :-1])
        rows = np.concatenate([torch.cat([x, y[:, -1:]], 1).numpy() for x, y in batches])  # (320, T + 1)
        found = problems_in(bench, rows)  # about 1,100 problems
        return sum(bool(m[3]) for m in found) / len(found)

    assert abs(share(worked=0.9, phase_worked=None) - 0.9) < 0.04
    assert share(worked=0.9, phase_worked=0.0) == 0.0
    assert abs(share(worked=0.0, phase_worked=0.5) - 0.5) < 0.06


def hops(symbols: int, k: int):
    return tasks().Hops(symbols, k)


def chase(text: str, k: int) -> list[str]:
    """The hops read off a problem's text by hand: '0>1,1>2,2>0,0?...' with 2 hops -> ['1', '2']."""
    table = dict(pair.split(">") for pair in text.split("?")[0].split(",")[:-1])
    x, out = text.split("?")[0].split(",")[-1], []
    for _ in range(k):
        x = table[x]
        out.append(x)
    return out


def test_a_hops_problem_is_its_table_then_the_query_and_worked_the_hops_between_brackets(bench):
    spec = ((1, 2, 3, 0), (0, 1, 2, 3), 0)
    assert bench.decode(hops(4, 2).problem(spec)) == "0>1,1>2,2>3,3>0,0?2$"
    assert bench.decode(hops(4, 2).problem(spec, worked=True)) == "0>1,1>2,2>3,3>0,0?(1)2$"
    assert bench.decode(hops(4, 3).problem(((1, 2, 3, 0), (3, 1, 0, 2), 2), worked=True)) == "3>0,1>2,0>1,2>3,2?(30)1$"
    rng = np.random.default_rng(5)
    for m, k in ((6, 2), (8, 3), (10, 4)):
        task = hops(m, k)
        for _ in range(100):
            spec = task.sample(rng)
            worked = task.problem(spec, worked=True)
            text = bench.decode(worked)
            match = re.fullmatch(r"((\d>\d,){%d})(\d)\?\((\d{%d})\)(\d)\$" % (m, k - 1), text)
            assert match, text
            assert sorted(p[0] for p in match[1].split(",")[:-1]) == sorted(p[2] for p in match[1].split(",")[:-1])
            assert [*match[4], match[5]] == chase(text, k), text
            plain = task.problem(spec)
            assert bench.decode(plain) == text.split("(")[0] + match[5] + "$"
            assert len(plain) == task.prompt_len + task.answer_len + 1 and plain[task.prompt_len - 1] == task.trigger
            assert task.parse(plain[:task.prompt_len]) == spec


def test_held_out_hops_problems_never_reach_training_but_every_symbol_pair_does(bench):
    task, T = hops(6, 2), 96
    rows, owner = bench.windows(task, np.random.default_rng(6), 300, T, test=False, worked=0.5)
    test_rows, test_owner = bench.windows(task, np.random.default_rng(7), 100, T, test=True)

    def problems(r):
        found = []
        for row in r:
            for piece in bench.decode(row.tolist()).split("$")[:-1]:
                found.append(task.parse(tasks().encode(piece.split("?")[0] + "?")))
                assert re.fullmatch(r"[\d>,]+\?(\(\d\))?\d", piece), piece
        return found

    train, test = problems(rows), problems(test_rows)
    assert len(train) > 600 and len(test) > 200
    assert not any(task.held_out(p) for p in train) and all(task.held_out(p) for p in test)
    assert not {(f, x) for f, _, x in train} & {(f, x) for f, _, x in test}
    pairs = {(s, f[s]) for f, _, _ in train for s in range(6)}
    assert len(pairs) == 36  # every symbol pair, each fixed point included, is in some training table
    share = np.mean([task.held_out(task.sample(np.random.default_rng(i))) for i in range(3000)])
    assert 0.07 < share < 0.13, share  # about a tenth held out (CRC-32 mod 10)
    # the scored targets are the symbols after '?': the answer, and in a worked problem the hop before it
    for i in range(test_rows.shape[0]):
        got = [bench.decode(test_rows[i, 1:][test_owner[i] == k].tolist()) for k in sorted(set(test_owner[i][test_owner[i] >= 0]))]
        whole = [piece[-1] for piece in bench.decode(test_rows[i].tolist()).split("$")[:-1]]
        assert got == whole[:len(got)] and len(whole) - len(got) <= 1
    specs = bench.scored_problems(task, test_rows, test_owner)
    assert [task.chain(s)[-1] for s in specs] == [int(c) for i in range(test_rows.shape[0])
                                                  for c in bench.decode(test_rows[i, 1:][test_owner[i] >= 0].tolist())]


def test_without_prompts_the_loss_sees_only_what_follows_each_query(bench):
    task = hops(6, 3)
    rows, _ = bench.windows(task, np.random.default_rng(8), 50, 96, test=False, worked=0.5)
    y = tasks().without_prompts(task, rows)
    for r in range(rows.shape[0]):
        kept = "".join("." if t == tasks().IGNORE else bench.decode([t]) for t in y[r])
        pieces = bench.decode(rows[r].tolist()).split("$")
        expect = "." * (task.prompt_len - 1)  # the row's first token is no target
        for piece in pieces[:-1]:
            expect += piece[task.prompt_len:] + "$" + "." * task.prompt_len
        assert kept == expect[:rows.shape[1] - 1], (kept, expect)


@pytest.mark.parametrize("argv, flag", [(["--symbols", "11"], "--symbols"), (["--symbols", "1"], "--symbols"),
                                        (["--hops", "1"], "--hops"), (["--seq-len", "30"], "--seq-len"),
                                        (["--worked", "-0.1"], "--worked")])
def test_a_bad_hops_argument_is_refused_by_name(bench, capsys, argv, flag):
    with pytest.raises(SystemExit):
        bench.parse_args(["--task", "hops", "--symbols", "8", *argv])
    assert flag in capsys.readouterr().err


def test_the_hops_thought_sits_where_the_worked_step_would(bench):
    assert bench.parse_args([]).task.name == "hops"  # the default task
    a = bench.parse_args(["--task", "hops", "--symbols", "6", "--hops", "3"])
    assert (a.thought_len, a.n_future) == (2, 1) and a.task.step_len == 2 and not a.prompt_loss
    assert bench.parse_args(["--task", "hops", "--lr", "5e-4"]).lr == 5e-4  # a flag given wins over the default
    a = bench.parse_args(["--task", "add"])  # the addition's defaults are as before the hops task
    assert (a.task.name, a.thought_len, a.n_future, a.seq_len, a.prompt_loss, a.batch, a.lr, a.phase_lr) == \
        ("add", 4, 4, 64, 1, 8, 3e-3, 2e-3)


class ScriptedHops(torch.nn.Module):
    """A stand-in model for 2-hop problems: after '(' it writes f(x) ("right") or f(x) + 1 mod m
    ("wrong"); after ')' the true answer ("true") or f of whatever step its input holds ("chain").
    Logits one-hot on the next token at the last position."""

    def __init__(self, task, step: str, answer: str):
        super().__init__()
        self.task, self.step, self.answer = task, step, answer

    def forward(self, x):
        t, D = self.task, tasks().DIGIT
        logits = torch.zeros(*x.shape, tasks().VOCAB)
        for i, row in enumerate(x.tolist()):
            spec = t.parse(row[:t.prompt_len])
            full = t.problem(spec, worked=True)
            nxt = full[len(row)]
            if len(row) == t.prompt_len + 1 and self.step == "wrong":  # after '(': the step
                nxt = D + (nxt - D + 1) % t.symbols
            if len(row) == t.prompt_len + 3 and self.answer == "chain":  # after ')': f of the written step
                nxt = D + spec[0][row[t.prompt_len + 1] - D]
            logits[i, -1, nxt] = 1.0
        return logits


def test_the_self_written_hops_are_scored_on_the_models_own_step(bench):
    task = hops(6, 2)
    test_rows, test_owner = bench.windows(task, np.random.default_rng(9), 8, 96, test=True)
    specs = bench.scored_problems(task, test_rows, test_owner)
    assert len(specs) >= 16 and all(task.held_out(s) for s in specs)
    assert bench.worked_accuracy(task, ScriptedHops(task, "right", "chain"), specs) == (1.0, 1.0)
    assert bench.worked_accuracy(task, ScriptedHops(task, "wrong", "true"), specs) == (0.0, 1.0)
    # f is a permutation: a wrong first hop always leads to a wrong second one
    assert bench.worked_accuracy(task, ScriptedHops(task, "wrong", "chain"), specs) == (0.0, 0.0)
