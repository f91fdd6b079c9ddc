"""Quiet-STaR (train/quiet_star.py, thought_attention.py, thought_sampling.py): the diagonal
thought mask, the step-by-step forward against the model's own blocks, and the gradients that reach the mixing head and the thought markers."""

from __future__ import annotations

import math

import pytest
import torch
from thresher.train.attention import DocMask, positions_in_document
from thresher.train.model import Transformer
from thresher.train.presets import build_config
from thresher.train.quiet_star import MixingHead, QuietStarConfig, quiet_star_forward
from thresher.train.thought_attention import run_step, step_mask, thinking_positions, thought_mask

VOCAB, EOS, START, END = 40, 2, 5, 6


def tiny(**overrides) -> Transformer:
    torch.manual_seed(0)
    return Transformer(build_config("tiny", VOCAB, {"seq_len": 32, **overrides}), eos_id=EOS)


def test_a_thought_token_sees_its_prefix_and_its_own_thought_only():
    doc = torch.tensor([[0, 0, 0, 0, 1, 1]])  # two documents: positions 0-3, then 4-5
    T, steps = 6, 3
    at = thinking_positions(T, 1)
    m = thought_mask(doc, at, steps)[0]  # (T + 3T, T + 3T)
    P = len(at)
    for s in range(1, steps + 1):
        for p, i in enumerate(at.tolist()):
            row = m[T + (s - 1) * P + p]
            seen = set(torch.nonzero(row).flatten().tolist())
            prefix = {j for j in range(T) if j <= i and doc[0, j] == doc[0, i]}
            own = {T + (r - 1) * P + p for r in range(1, s + 1)}
            assert seen == prefix | own, (s, i, sorted(seen))
    # the base window stays document-causal and never sees a thought
    assert not m[:T, T:].any()
    assert m[5, 4] and not m[5, 3] and not m[2, 3]


def test_every_kth_position_and_the_window():
    at = thinking_positions(7, 3)
    assert at.tolist() == [2, 5]
    doc = torch.zeros(1, 7, dtype=torch.long)
    m = step_mask(doc, at, 2, window=4)[0]  # (P, T + 2P)
    # the thought at 5 sits at position 5 + 2 = 7: a window of 4 reaches back to base position 4
    assert torch.nonzero(m[1, :7]).flatten().tolist() == [4, 5]
    assert m[1, 7:].tolist() == [False, True, False, True]
    m = step_mask(doc, at, 5, window=4)[0]  # step 5 sees its own steps 2..5 and no base token
    assert not m[1, :7].any() and m[1, 7:].tolist() == [False, False] + [False, True] * 4


def test_step_by_step_equals_one_forward_of_the_model_blocks_with_the_full_mask():
    model = tiny().eval()
    B, T, steps = 2, 8, 3
    torch.manual_seed(1)
    x = torch.randint(7, VOCAB, (B, T))
    x[0, 3] = EOS
    doc = torch.cumsum((x == EOS).long(), 1) - (x == EOS).long()
    at = thinking_positions(T, 2)
    P = len(at)
    thought = torch.randint(7, VOCAB, (B, steps, P))
    pos = positions_in_document(doc)
    full_mask = thought_mask(doc, at, steps)
    with torch.no_grad():
        # the reference: the model's own Block.forward on the concatenated sequence, dense mask
        seq = torch.cat([x, thought.flatten(1)], 1)
        full_pos = torch.cat([pos] + [pos[:, at] + s for s in range(1, steps + 1)], 1)
        cos, sin = model._rope(full_pos, int(full_pos.max()) + 1)
        h = model.embed(seq)
        for block in model.blocks:
            h, _ = block(h, cos, sin, DocMask(dense=full_mask[:, None], causal=False))
        ref = model.norm(h)
        # step by step with growing keys
        i = torch.arange(T)
        causal = (i[:, None] >= i[None, :]) & (doc[:, :, None] == doc[:, None, :])
        h0, _, kv = run_step(model, model.embed(x), pos, {0: causal}, None)
        outs = [h0]
        for s in range(1, steps + 1):
            hs, _, kv = run_step(model, model.embed(thought[:, s - 1]), pos[:, at] + s,
                                 {0: step_mask(doc, at, s)}, kv)
            outs.append(hs)
    assert torch.allclose(torch.cat(outs, 1), ref, atol=1e-5), (torch.cat(outs, 1) - ref).abs().max()
    # and the base step is the model's plain forward
    assert torch.allclose(h0, model.hidden(x)[0], atol=1e-5)


def test_with_the_mixing_weight_at_zero_the_future_loss_is_the_plain_loss():
    model = tiny()
    head = MixingHead(model.cfg.d_model)
    with torch.no_grad():
        head.net[2].bias.fill_(-40.0)  # w = 0: the mixed prediction is the plain one
    torch.manual_seed(5)
    tokens = torch.randint(7, VOCAB, (2, 11))
    for n_thoughts in (1, 3):
        qc = QuietStarConfig(thought_len=2, n_thoughts=n_thoughts, n_future=1)
        with torch.no_grad():
            out = quiet_star_forward(model, head, qc, tokens[:, :-1], tokens[:, 1:], (START, END))
        assert abs(out.parts["nll"] - out.parts["base"]) < 1e-5 and out.parts["mix_weight"] < 1e-12


def test_gradients_reach_the_mixing_head_and_the_thought_markers():
    model = tiny()
    head = MixingHead(model.cfg.d_model)
    qc = QuietStarConfig(thought_len=3, n_thoughts=2, n_future=2)
    torch.manual_seed(2)
    tokens = torch.randint(7, VOCAB, (2, 13))
    out = quiet_star_forward(model, head, qc, tokens[:, :-1], tokens[:, 1:], (START, END),
                             gen=torch.Generator().manual_seed(0))
    out.loss.backward()
    assert out.tokens.shape == (2, 2, 12, 3)
    assert not torch.isin(out.tokens, torch.tensor([START, END, EOS])).any()
    assert 0 < out.parts["mix_weight"] < 1
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    g = model.embed.weight.grad
    assert g[START].abs().sum() > 0 and g[END].abs().sum() > 0
    # the REINFORCE term alone reaches the thought tokens' distribution too
    model.zero_grad()
    rl_only = QuietStarConfig(thought_len=3, n_thoughts=2, n_future=2, base_weight=0, nll_weight=0)
    out = quiet_star_forward(model, head, rl_only, tokens[:, :-1], tokens[:, 1:], (START, END),
                             gen=torch.Generator().manual_seed(0))
    out.loss.backward()
    assert out.parts["reward_std"] > 0
    assert model.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


def test_sampling_thinks_as_training_does_and_takes_the_thought_back():
    from thresher.train.thought_sampling import generate_with_thoughts, think_next

    for window in (0, 4):  # full attention, and sliding-window layers whose ring buffer the thought overwrites
        model = tiny(window=window).eval()
        head = MixingHead(model.cfg.d_model)
        with torch.no_grad():
            head.net[2].bias.fill_(0.0)  # w near 0.5: both predictions matter
        torch.manual_seed(3)
        x = torch.randint(7, VOCAB, (1, 9))
        qc = QuietStarConfig(thought_len=3, n_thoughts=1, n_future=1)
        with torch.no_grad():
            ref = quiet_star_forward(model, head, qc, x, x, (START, END), greedy=True)
            caches = model.new_caches(1, 20, "cpu", torch.float32)
            h = model.hidden(x, caches=caches)[0][0, -1]
            mixed, thought, w = think_next(model, head, caches, h, model.lm_head(h), 3, (START, END), temperature=0)
            assert thought == ref.tokens[0, 0, -1].tolist()
            assert abs(w - float(ref.weight[0, 0, -1, 0])) < 1e-5
            assert torch.allclose(mixed, ref.mixed_logp[0, 0, -1, 0], atol=1e-4)
            # after the thought the caches continue the prefix as if it had never been there
            nxt = torch.tensor([[11]])
            after = model(nxt, caches=caches)[0, -1]
            plain = model(torch.cat([x, nxt], 1))[0, -1]
            assert torch.allclose(after, plain, atol=1e-4)
    shown = generate_with_thoughts(model, head, [9, 10], 4, (START, END), 3, show=True, seed=0, stop_at_eos=False)
    hidden = generate_with_thoughts(model, head, [9, 10], 4, (START, END), 3, show=False, seed=0, stop_at_eos=False)
    assert len(shown) == 4 * (3 + 2 + 1) and shown[0] == START and shown[4] == END
    assert [t for k, t in enumerate(shown) if k % 6 == 5] == hidden


def test_a_phase_starts_from_a_checkpoint_saves_one_sample_loads_and_resumes(chain_shards, tmp_path):
    from thresher.train.config import TrainConfig
    from thresher.train.loop import train
    from thresher.train.metrics import read_metrics
    from thresher.train.quiet_star import load_head, run_phase
    from thresher.train.sample import load_model

    from thresher.errors import ConfigError

    tc = TrainConfig(preset="tiny", steps=2, batch_size=2, seq_len=16, warmup_steps=0, eval_every=0, ckpt_every=0,
                     sample_tokens=0)
    pre = train(tc, chain_shards, tmp_path / "run", echo=lambda _: None)
    with pytest.raises(ConfigError, match="train.quiet_star"):
        run_phase(tc, chain_shards, tmp_path / "qs", start=pre.checkpoint, markers=(START, END))
    qc = QuietStarConfig(thought_len=2, n_thoughts=2, n_future=2, every=4, steps=2, log_every=1)
    assert TrainConfig(quiet_star=qc.model_dump()).quiet_star == qc  # `train.quiet_star: {...}` in the YAML
    with pytest.raises(ValueError, match="thought_len"):
        TrainConfig(quiet_star={"thought_len": 0})
    tq = tc.model_copy(update={"quiet_star": qc})
    with pytest.raises(ConfigError, match="every"):
        run_phase(tc.model_copy(update={"quiet_star": qc.model_copy(update={"every": 17})}), chain_shards,
                  tmp_path / "bad", start=pre.checkpoint, markers=(START, END))
    res = run_phase(tq, chain_shards, tmp_path / "qs", start=pre.checkpoint, markers=(START, END), echo=lambda _: None)
    records = read_metrics(tmp_path / "qs" / "metrics.jsonl")
    assert res.step == 2 and [r["step"] for r in records if "loss" in r] == [1, 2]
    (ev,) = [r for r in records if r.get("event") == "eval"]  # eval_every 0: at the end, on held-out windows
    assert ev["step"] == 2 and ev["val_tokens"] > 0 and ev["val_future_pairs"] > 0 and ev == res.evals[0]
    assert all(math.isfinite(ev[k]) for k in ("val_loss", "val_future_thought", "val_future_plain"))
    model, facts = load_model(res.checkpoint)  # an ordinary checkpoint for `thresher sample`
    blob = torch.load(res.checkpoint, weights_only=False)
    head, saved_qc, markers = load_head(blob, model.cfg.d_model)
    assert saved_qc == qc and markers == (START, END)
    assert not torch.equal(blob["model"]["embed.weight"], torch.load(pre.checkpoint, weights_only=False)["model"]["embed.weight"])
    # stopped after step 1 and resumed: step 2 is the uninterrupted run's step 2
    half = run_phase(tq, chain_shards, tmp_path / "qs2", start=pre.checkpoint, markers=(START, END), stop_at=1,
                     echo=lambda _: None)
    assert half.step == 1
    again = run_phase(tq, chain_shards, tmp_path / "qs2", markers=(START, END), echo=lambda _: None)
    assert again.step == 2 and [r["step"] for r in again.records] == [2]
    assert abs(again.records[0]["loss"] - res.records[1]["loss"]) < 1e-6, (again.records, res.records)


def test_the_flex_attention_mask_function_is_the_dense_mask():
    from thresher.train.thought_attention import step_mask_mod

    doc = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0, 0]])
    for every, step, window in ((1, 1, 0), (2, 3, 0), (3, 4, 4), (1, 6, 3)):
        at = thinking_positions(9, every)
        dense = step_mask(doc, at, step, window)
        B, P, S = dense.shape
        mod = step_mask_mod(doc, at, step, window)
        grid = mod(torch.arange(B)[:, None, None], 0, torch.arange(P)[None, :, None], torch.arange(S)[None, None, :])
        assert torch.equal(grid, dense), (every, step, window)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (on CPU eager FlexAttention takes 20 s)")
def test_the_flex_attention_forward_gives_what_the_dense_mask_gives():
    model = tiny(window=5, global_every=2).cuda().eval()  # layer 0 sliding-window, layer 1 full
    head = MixingHead(model.cfg.d_model).cuda()
    torch.manual_seed(4)
    x = torch.randint(7, VOCAB, (2, 12), device="cuda")
    x[1, 4] = EOS
    qc = QuietStarConfig(thought_len=3, n_thoughts=2, n_future=2, every=3)
    with torch.no_grad():
        dense = quiet_star_forward(model, head, qc, x, x, (START, END), greedy=True)
        model.use_flex = True
        flex = quiet_star_forward(model, head, qc, x, x, (START, END), greedy=True)
    assert torch.equal(dense.tokens, flex.tokens)
    assert torch.allclose(dense.mixed_logp, flex.mixed_logp, atol=1e-3)
    assert abs(dense.parts["base"] - flex.parts["base"]) < 1e-4
