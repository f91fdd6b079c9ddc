"""fold_texts (a numba scan, Python's NFKC only where it cannot clear a text) against the definition,
fold_text, on every code point it decides and on real text in many scripts."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from thresher.dedup.fold import NFKC, REPLACE, SPACES, fold_text, fold_texts
from thresher.dedup.shingles import FAST_LIMIT, _canonical_pairs

REAL = Path(__file__).parents[1] / "data" / "real" / "text"


def check(texts: list[str]) -> None:
    payloads, lengths = fold_texts(texts)
    for text, payload, length in zip(texts, payloads, lengths):
        want = fold_text(text)
        assert payload == want.encode("utf-8", "surrogatepass") and length == len(want), repr(text)


def test_fold_text_is_nfkc_with_whitespace_runs_as_one_space():
    assert fold_text(" Ｆoo\n\tbar  ") == "Foo bar"
    for text in ["a\u00a0b", "a\u2028b", "\u3000x", "ﬁ  x", "x\x1cy", "e\u0301"]:
        assert fold_text(text) == " ".join(unicodedata.normalize("NFKC", text).split())


def test_every_code_point_alone_and_beside_others():
    """Each code point below FAST_LIMIT (the scan's table) in contexts where NFKC may compose, reorder
    or replace it: after a letter, before a combining accent, doubled, beside spaces."""
    chars = [chr(c) for c in range(1, FAST_LIMIT) if not 0xD800 <= c < 0xE000]
    check([f"a{ch}b {ch}\u0301 e{ch}{ch}  {ch}" for ch in chars])
    check([f"{ch}\u0323\u0307{ch} " for ch in chars])


def test_canonical_pairs_and_marks_out_of_order():
    """Every two-code-point canonical decomposition written decomposed (NFKC composes it), and marks
    in and out of canonical order."""
    check([f"x {chr(a)}{chr(b)} y" for a, b in _canonical_pairs()])
    check(["a\u0301\u0323", "a\u0323\u0301", "\u1100\u1161\u11a8", "\u0915\u093c", "\u0928\u093c"])


def test_real_text_in_many_scripts():
    texts = [json.loads(line)["text"] for name in ("good.jsonl", "garbage.jsonl")
             for line in (REAL / name).read_text().splitlines() if line.strip()]
    assert len(texts) > 100
    check(texts)
    check([t.upper() for t in texts])  # capital sigma, dotted capital I


@pytest.mark.parametrize("text", ["", " ", "\n\t ", "\ud800 x", "a\udfff", "x\U0001F600y", "\U00020000 z", "…" * 9,
                                  "\u00a0lead", "trail\u00a0", "a" * 5 + "\u2026" + "ﬁ" + "Ａ" + "№" + "և"])
def test_edges_and_bad_input(text):
    """Empty and blank text, lone surrogates (records can carry them: surrogatepass), code points
    past the table, more kinds of replaced code points than the scan notes."""
    check([text])


def test_the_scan_sends_only_what_it_must_to_python():
    """What the dedup stage saves: text that NFKC leaves as it is never reaches Python's NFKC."""
    from thresher.dedup import fold

    texts = ["plain ascii words", "déjà vu", "नमस्ते दुनिया", "a  b", "x … y", "ε\u0301"]
    verdicts = fold.verdicts(texts)
    assert verdicts[:5] == [0, 0, 0, SPACES, REPLACE] and verdicts[5] & NFKC


def test_a_table_kept_on_disk_is_loaded_rebuilt_when_damaged_and_per_version(tmp_path):
    """kept_on_disk loads what an earlier call saved beside the module; a damaged file is built
    again rather than trusted, another version of the module gets its own, and a read-only folder
    still gives the table."""
    from thresher.dedup.tables import kept_on_disk

    module = tmp_path / "m.py"
    module.write_text("x = 1")
    calls = []

    def build():
        calls.append(1)
        return np.arange(5)

    assert np.array_equal(kept_on_disk("t", build, str(module)), np.arange(5)) and len(calls) == 1
    assert np.array_equal(kept_on_disk("t", build, str(module)), np.arange(5)) and len(calls) == 1  # loaded
    [saved] = (tmp_path / "__pycache__").glob("t-*.npy")
    saved.write_bytes(b"not a table")
    assert np.array_equal(kept_on_disk("t", build, str(module)), np.arange(5)) and len(calls) == 2
    module.write_text("x = 2")  # another version of the module: its own table
    assert np.array_equal(kept_on_disk("t", build, str(module)), np.arange(5)) and len(calls) == 3
    (tmp_path / "__pycache__").chmod(0o500)
    try:
        module.write_text("x = 3")
        assert np.array_equal(kept_on_disk("t", build, str(module)), np.arange(5)) and len(calls) == 4
    finally:
        (tmp_path / "__pycache__").chmod(0o700)


def test_the_kernel_tables_kept_on_disk_are_the_ones_built():
    """The MinHash kernel's normalisation tables and composition keys, loaded from __pycache__, are
    the ones their builders make (same values, same dtypes)."""
    from thresher.dedup import shingles

    built = shingles._build_fast_tables()
    shingles._fast_tables.cache_clear()
    for got, want in zip(shingles._fast_tables(), built):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    shingles.composition_keys.cache_clear()
    assert np.array_equal(shingles.composition_keys(), shingles._composition_keys())
