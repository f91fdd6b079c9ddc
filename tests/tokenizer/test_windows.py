"""The shard reader's numba id fills (tokenizer/windows.py) against its np.repeat fallback: the
same document ids for every id type, empty documents and windows without a start, over several
files (the tokens checked against the stream too)."""

from __future__ import annotations

import numpy as np
import pytest
from thresher.tokenizer import reader as reader_mod
from thresher.tokenizer.reader import ShardReader
from thresher.tokenizer.shards import ShardWriter, merge_manifest

META = {"vocab_fingerprint": "abc", "vocab_size": 1000, "dtype": "uint16", "eos_id": 2}


def _expected(docs, picks, seq_len):
    stream = np.concatenate(docs).astype(np.int64)
    return np.stack([stream[w * seq_len:w * seq_len + seq_len + 1] for w in picks.tolist()])


@pytest.mark.parametrize("lengths, seq_len", [((1, 40), 16), ((0, 3), 64), ((200, 900), 32), ((1, 2), 280)])
def test_fills_equal_the_numpy_fallback(tmp_path, monkeypatch, lengths, seq_len):
    rng = np.random.default_rng(sum(lengths) + seq_len)
    docs = [rng.integers(3, 999, rng.integers(*lengths) if lengths[1] > 1 else 1).astype(np.uint16)
            for _ in range(300)]
    total = sum(len(d) for d in docs)
    w = ShardWriter(tmp_path, 0, np.uint16, max_tokens=max(8, total // 6))  # several files: windows cross them
    for d in docs:
        w.add("train", d, "text")
    w.close()
    merge_manifest(tmp_path, 1, META)
    dtypes = set()
    for narrow in (True, False):
        r = ShardReader(tmp_path, "train", seq_len=seq_len, seed=3, narrow_ids=narrow)
        picks = r._windows()
        fast, fast_tokens = r._doc_ids(picks), r._tokens(picks * seq_len)
        monkeypatch.setattr(reader_mod, "_numba_loops", lambda: None)
        slow, slow_tokens = r._doc_ids(picks), r._tokens(picks * seq_len)
        monkeypatch.undo()
        assert np.array_equal(fast_tokens, slow_tokens) and np.array_equal(fast_tokens, _expected(docs, picks, seq_len))
        assert fast.dtype == slow.dtype == r.doc_id_dtype
        dtypes.add(fast.dtype)
        assert np.array_equal(fast, slow)
        assert fast[:, 0].max() == 0 and (np.diff(fast.astype(np.int64), axis=1) >= 0).all()
    assert len(r._bins) > 2  # windows spread over files
    assert reader_mod._numba_loops() is not None  # numba is a dependency: the fills are what runs
    if lengths == (1, 2):  # 280 one-token documents in a window: uint16 ids
        assert np.dtype(np.uint16) in dtypes


@pytest.mark.parametrize("dtype, max_tokens", [(np.uint16, 10**6), (np.int32, 10**6), (np.int32, 700)])
def test_window_copies_equal_the_numpy_fallback(tmp_path, monkeypatch, dtype, max_tokens):
    """The compiled window copy (tokenizer/windows.py copy_windows) on one file and on many, uint16 and
    int32 tokens (token_dtype for vocabularies past 2**16), blocks of every size: the same int64 windows as numpy's slices and the stream."""
    rng = np.random.default_rng(max_tokens)
    high = 70000 if dtype == np.int32 else 999  # int32 shards hold ids past uint16
    docs = [rng.integers(3, high, rng.integers(1, 90)).astype(dtype) for _ in range(200)]
    w = ShardWriter(tmp_path, 0, dtype, max_tokens=max_tokens)
    for d in docs:
        w.add("train", d, "text")
    w.close()
    merge_manifest(tmp_path, 1, {**META, "vocab_size": 80000, "dtype": np.dtype(dtype).name})
    r = ShardReader(tmp_path, "train", seq_len=48, seed=5)
    assert (len(r._bins) == 1) == (max_tokens == 10**6)
    picks = r._windows()
    for size in (1, 3, len(picks)):  # one window; a few, often in one file; all, over every file
        part = picks[:size]
        fast = r._tokens(part * 48)
        monkeypatch.setattr(reader_mod, "_numba_loops", lambda: None)
        slow = r._tokens(part * 48)
        monkeypatch.undo()
        assert fast.dtype == slow.dtype == np.int64
        assert np.array_equal(fast, slow) and np.array_equal(fast, _expected(docs, part, 48))
    assert r._tokens(picks[:0] * 48).shape == (0, 49)
