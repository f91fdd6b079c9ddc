"""The shard reader's two inner loops (tokenizer/reader.py): windows copied out of a file, and
window-relative document ids written run by run.

The reader lays out every window's runs of equal ids once (reader._run_table); a block of windows
then needs each run written as a constant. numpy has no call that fills many runs with different
values except np.repeat, which copies its values one element (one byte, for uint8 ids) at a time:
at a few runs per window of 2,049 tokens that cost about a third of copying the tokens. One fill
per run is about four times faster (measured on the 2-core VM).

Copying windows: numpy copies a window per Python-level slice assignment (about 0.8 us of
interpreter per window of 2,049 tokens), or fancy-indexes a strided view into a uint16 temporary
and then widens it (two passes). One compiled loop per file widens each window straight into
place, about 1.4x faster than the slice loop (measured on the 2-core VM).

numba is a core dependency (the MinHash kernel uses it); `cache=True` keeps the machine code beside
this file, one version per token and id type. The reader falls back to numpy (slices, np.repeat)
where numba cannot be imported.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def fill_ids(runs, run_off, run_count, picks, out):
    """out[b] = the ids of window picks[b]: run j of it (runs[run_off[w] + j] tokens long, for j in
    0..run_count[w]) is all j. runs int32, run_off int64, run_count int32 (n_windows,) as
    reader._run_table returns them; picks int64 (B,); out (B, T+1) of the reader's id type."""
    for b in range(picks.size):
        w = picks[b]
        o, p = run_off[w], 0
        for j in range(run_count[w] + 1):
            n = runs[o + j]
            out[b, p:p + n] = j
            p += n


@numba.njit(cache=True, nogil=True)
def copy_windows(src, offsets, rows, lo, hi, out):
    """For i in lo..hi-1: out[rows[i]] = src[offsets[rows[i]] : + out.shape[1]], widened to out's
    type. src (n,) one file's tokens; offsets int64 (B,) each row's first token in src; rows int64
    (m,) the rows to fill, grouped by file (lo..hi is this file's group); out int64 (B, T+1)."""
    span = out.shape[1]
    for i in range(lo, hi):
        r = rows[i]
        s = src[offsets[r]:offsets[r] + span]
        dst = out[r]
        for k in range(span):  # an explicit loop: LLVM vectorises the widening copy
            dst[k] = s[k]
