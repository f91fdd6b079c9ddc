"""The BPE training sample: capped by bytes as well as by lines (tokenizer.sample_bytes); below the
byte cap the model is the one the line cap alone gives."""

from __future__ import annotations

import numpy as np
from thresher.tokenizer.bpe import TextCodec, sentences_for
from thresher.tokenizer.config import TokenizerConfig
from thresher.tokenizer.train import Samples

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta", "lambda", "zeta"]


def _train(folder, text_docs, **cfg):
    folder.mkdir()
    samples = Samples(TokenizerConfig(vocab_size=400, threads=1, **cfg), folder)
    for d in text_docs:
        samples.text(d)
    codec = TextCodec()
    section = codec.train(samples, folder)
    sp = codec.load(folder)  # the pieces and scores (the model file also names its own folder)
    return section, [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())], samples


def _docs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(50, 150))) + "\n" for _ in range(n)]


def test_sentences_for_lowers_the_line_count_only_past_the_byte_cap():
    assert sentences_for(2_000_000, 10**6, n_lines=50, n_bytes=10**6) == 2_000_000  # at the cap: untouched
    assert sentences_for(2_000_000, 10**6, n_lines=1000, n_bytes=4 * 10**6) == 250
    assert sentences_for(100, 10**6, n_lines=1000, n_bytes=2 * 10**6) == 100  # the line cap is lower
    assert sentences_for(1000, 100, n_lines=10, n_bytes=10**9) == 1  # never none


def test_byte_cap_samples_fewer_lines_and_says_so(tmp_path):
    docs = _docs()
    big, big_model, s = _train(tmp_path / "big", docs)
    assert s.text_lines == len(docs) and s.text_bytes > 300_000
    assert "sampled_sentences" not in big  # the default cap is far above this corpus
    # the same model whatever the byte cap while the text is under it
    same, same_model, _ = _train(tmp_path / "same", docs, sample_bytes=s.text_bytes)
    assert same == big and same_model == big_model
    small, small_model, _ = _train(tmp_path / "small", docs, sample_bytes=100_000)
    want = len(docs) * 100_000 // s.text_bytes
    assert small["sampled_sentences"] == want and small["of_sentences"] == len(docs)
    assert small["sample_bytes"] == 100_000 and small_model != big_model
