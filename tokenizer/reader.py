"""The shard reader the trainer uses: fixed windows of packed tokens, with document boundaries.

    from thresher.tokenizer.reader import ShardReader

    reader = ShardReader("WORKDIR/shards", split="train", seq_len=2048, rank=rank, world_size=world,
                         seed=0, expect_fingerprint=vocab.fingerprint)
    tokens, doc_ids = reader.next_batch(8)   # int64 (8, 2049), doc_id_dtype (8, 2049); wraps across epochs
    for tokens, doc_ids in reader: ...       # one window at a time: int64 (2049,), doc_id_dtype (2049,),
                                             # from the current position to the end of this epoch
    state = reader.state_dict()              # put it in the checkpoint ...
    reader.load_state_dict(state)            # ... and resume at the same window

- The split's documents, in manifest order, form one stream of N tokens; window w is tokens
  [w*T, w*T + T + 1) (T = seq_len), so inputs are `tokens[:-1]` and targets `tokens[1:]`, and every
  token is a target exactly once per epoch. There are (N - 1) // T windows; the tail is dropped.
- `doc_ids[i]` numbers the documents inside the window from 0: a query at i may attend to a key at
  j <= i only when `doc_ids[i] == doc_ids[j]` (document-causal masking). Each document ends with
  `eos_id`. The ids are relative to the window, so they come in the narrowest type that holds the
  most documents starting inside any window of the split (`doc_id_dtype`, worked out from the index
  at opening, with `narrow_ids=True`; int32 otherwise): uint8 up to 255, uint16 up to 65535, else int32. At 2048 tokens per window, that is one
  byte per token instead of four, and bytes moved are what a reader at memory speed pays for.
- Each epoch visits the windows in a permutation seeded by (seed, epoch); rank r takes every
  world_size-th window of it, and every rank gets the same count (`len(reader)`), so DDP ranks stay
  in step. `shuffle=False` keeps stream order.
- Opening checks the manifest's format version and, when given, the vocabulary fingerprint, then
  every file's size, MMIDIDX header and (with `verify=True`, the default) its checksum; a missing,
  truncated or corrupt file raises `ShardError` naming the file.
"""

from __future__ import annotations

import bisect
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from thresher.tokenizer.mmidx import IndexFormatError, read_index
from thresher.tokenizer.shards import FORMAT, FORMAT_VERSION, file_checksum

from thresher.errors import ThresherError

REDO = "re-run the shard stage (`thresher shard CONFIG --force`)"


class ShardError(ThresherError):
    """Shards that cannot be read as they are: missing, truncated, corrupt or for another vocabulary."""


def load_manifest(folder: str | Path, expect_fingerprint: str | None = None) -> dict:
    """Read and check `manifest.json` (format, version, vocabulary fingerprint)."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise ShardError(f"{path} not found: the shards are missing or incomplete; {REDO}")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ShardError(f"{path} is not valid JSON ({e}); {REDO}") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise ShardError(f"{path}: format {manifest.get('format')!r} version {manifest.get('format_version')!r}, "
                         f"this thresher reads {FORMAT!r} version {FORMAT_VERSION}; {REDO}")
    if expect_fingerprint is not None and manifest.get("vocab_fingerprint") != expect_fingerprint:
        raise ShardError(f"{path}: the shards were encoded with vocabulary {manifest.get('vocab_fingerprint')}, "
                         f"not {expect_fingerprint}; use the tokenizer they were made with, or {REDO}")
    return manifest


@dataclass
class _Block:
    """Windows fetched ahead: positions [start, start + len(picks)) of epoch `epoch`'s order."""

    epoch: int
    start: int
    picks: np.ndarray  # int64 (n,) window numbers
    tokens: np.ndarray  # int64 (n, T+1)
    doc_ids: np.ndarray | None = None  # doc_id_dtype (n, T+1), computed when first asked for
    rows: list | None = None  # (token row, id row) views for iteration, made when first iterated


class ShardReader:
    def __init__(self, folder: str | Path, split: str = "train", seq_len: int = 2048, rank: int = 0,
                 world_size: int = 1, seed: int = 0, shuffle: bool = True, expect_fingerprint: str | None = None,
                 verify: bool = True, narrow_ids: bool = False):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        self.folder, self.split, self.seq_len = Path(folder), split, int(seq_len)
        self.rank, self.world_size, self.seed, self.shuffle = rank, world_size, seed, shuffle
        self.manifest = load_manifest(self.folder, expect_fingerprint)
        if split not in self.manifest["splits"]:
            raise ShardError(f"{self.folder}: no split {split!r} (have {sorted(self.manifest['splits'])})")
        self.fingerprint: str = self.manifest["vocab_fingerprint"]
        self.vocab_size: int = self.manifest["vocab_size"]
        self.eos_id: int = self.manifest["eos_id"]
        self.dtype = np.dtype(self.manifest["dtype"])
        self.narrow_ids = narrow_ids
        self._open_files(self.manifest["splits"][split]["files"], verify)
        self.n_tokens = int(self._file_starts[-1])
        n_windows = max(0, (self.n_tokens - 1) // self.seq_len)
        self.windows_per_rank = n_windows // world_size
        if self.windows_per_rank == 0:
            raise ShardError(f"{self.folder} split {split!r} holds {self.n_tokens} tokens: not one window of "
                             f"{self.seq_len + 1} per rank for {world_size} ranks; lower seq_len or add data")
        self.epoch, self.position = 0, 0
        self._order: np.ndarray | None = None
        self._block: _Block | None = None
        # next_batch and iteration fetch windows in blocks of about this many tokens: 2**19 measured faster than
        # 2**18 and 2**20 on 12 files (a block's fixed calls, one per file, spread over more windows) and
        # no slower on one (benchmarks/bench_shards.py --read-ahead)
        self.read_ahead_tokens = 2**19

    # ------------------------------------------------------------ opening

    def _open_files(self, files: list[dict], verify: bool) -> None:
        self._bins: list[np.ndarray] = []
        starts, doc_starts = [0], []
        for f in files:
            bin_path, idx_path = self.folder / f"{f['prefix']}.bin", self.folder / f"{f['prefix']}.idx"
            for p in (bin_path, idx_path):
                if not p.is_file():
                    raise ShardError(f"{p} is missing; {REDO}")
            size = bin_path.stat().st_size
            if size != f["bin_bytes"] or size != f["tokens"] * self.dtype.itemsize:
                raise ShardError(f"{bin_path}: {size} bytes, the manifest says {f['bin_bytes']} "
                                 f"({f['tokens']} tokens of {self.dtype}): truncated or corrupt; {REDO}")
            if verify:
                for p, key in ((bin_path, "bin_checksum"), (idx_path, "idx_checksum")):
                    if file_checksum(p) != f[key]:
                        raise ShardError(f"{p}: checksum differs from the manifest (corrupt); {REDO}")
            try:
                index = read_index(idx_path)
            except IndexFormatError as e:
                raise ShardError(f"{e}; {REDO}") from None
            if index.dtype != self.dtype or len(index.sizes) != f["documents"] or index.n_tokens != f["tokens"]:
                raise ShardError(f"{idx_path}: {len(index.sizes)} documents / {index.n_tokens} tokens of {index.dtype}, "
                                 f"the manifest says {f['documents']} / {f['tokens']} of {self.dtype}; {REDO}")
            offsets = index.pointers // self.dtype.itemsize  # (n_docs,) token offset of each document
            if len(offsets) and (offsets[0] != 0 or (offsets[1:] != offsets[:-1] + index.sizes[:-1]).any()):
                raise ShardError(f"{idx_path}: sequence offsets disagree with the sizes (each document should "
                                 f"follow the one before it in {bin_path.name}): corrupt; {REDO}")
            doc_starts.append(starts[-1] + offsets)
            starts.append(starts[-1] + f["tokens"])
            # a plain ndarray view of the memmap: slicing it skips np.memmap's per-slice bookkeeping
            self._bins.append(np.memmap(bin_path, dtype=self.dtype, mode="r").view(np.ndarray) if f["tokens"]
                              else np.zeros(0, self.dtype))
        self._file_starts = np.array(starts, dtype=np.int64)  # (n_files + 1,) global token offsets
        self._starts_list = [int(x) for x in starts]  # the same, for bisect (faster than numpy per call)
        self._doc_starts = np.concatenate(doc_starts) if doc_starts else np.zeros(0, np.int64)  # (n_docs,)
        self._runs, self._run_off, self._run_count = _run_table(self._doc_starts, starts[-1], self.seq_len)
        self._views = [_window_view(b, -s % self.seq_len, self.seq_len) for b, s in zip(self._bins, starts)]
        self._view_shift = np.array([-s % self.seq_len for s in starts[:-1]], dtype=np.int64)  # (n_files,)
        self._cols = np.arange(self.seq_len + 2, dtype=np.int64)  # (T+2,) run numbers within a window
        self._run_ids_cache: dict[tuple[int, int], np.ndarray] = {}
        self._arange = np.zeros(0, dtype=np.int64)  # _rows()
        # int32 unless asked (the trainer's Batches asks): narrow ids are exact but a new type to callers
        self.doc_id_dtype = (doc_id_dtype(int(self._run_count.max()) if len(self._run_count) else 0)
                             if self.narrow_ids else np.dtype(np.int32))

    # ------------------------------------------------------------ documents

    @property
    def n_documents(self) -> int:
        return len(self._doc_starts)

    def document(self, i: int) -> np.ndarray:
        """The tokens of document i of the split (int64), in manifest order."""
        start = int(self._doc_starts[i])
        end = int(self._doc_starts[i + 1]) if i + 1 < len(self._doc_starts) else self.n_tokens
        return self._slice(start, end)

    def _slice(self, start: int, end: int, dtype: np.dtype | type = np.int64) -> np.ndarray:
        """Global tokens [start, end) as `dtype`, across file boundaries when needed."""
        starts = self._starts_list
        f = bisect.bisect_right(starts, start) - 1
        if end <= starts[f + 1]:
            return self._bins[f][start - starts[f]:end - starts[f]].astype(dtype)
        pieces = []
        while start < end:
            stop = min(end, starts[f + 1])
            pieces.append(self._bins[f][start - starts[f]:stop - starts[f]])
            start, f = stop, f + 1
        return np.concatenate(pieces).astype(dtype)

    # ------------------------------------------------------------ windows

    def __len__(self) -> int:
        """Windows this rank reads per epoch."""
        return self.windows_per_rank

    def _windows(self) -> np.ndarray:
        if self._order is None:
            n = self.windows_per_rank * self.world_size
            order = (np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle
                     else np.arange(n))
            self._order = order[self.rank::self.world_size]
        return self._order

    def window(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Window w of the stream: tokens int64 (T+1,), doc_ids int32 (T+1,) (one window, to look at;
        batches and iteration hand out `doc_id_dtype`)."""
        tokens, doc_ids = self._gather(np.array([w], dtype=np.int64), True)
        return tokens[0], doc_ids[0].astype(np.int32)

    def _gather(self, picks: np.ndarray, with_ids: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Windows `picks` (int64 (B,) window numbers): tokens int64 (B, T+1), doc ids (B, T+1)."""
        starts = picks * self.seq_len  # (B,) global token offsets
        tokens = self._tokens(starts)
        return tokens, (self._doc_ids(picks) if with_ids else None)

    def _tokens(self, starts: np.ndarray) -> np.ndarray:
        """int64 (B, T+1). With numba: the windows grouped by file, one compiled copy per file that
        widens each window straight into place (tokenizer/windows.py). Without: windows all inside
        one file come from one fancy index of its window view (converted to int64 once), others
        window by window."""
        span, fs = self.seq_len + 1, self._file_starts
        B = len(starts)
        if B == 0:
            return np.zeros((0, span), dtype=np.int64)
        loops = _numba_loops()
        if len(self._bins) == 1:  # every window lies inside the only file
            if loops is None:
                return self._views[0][starts // self.seq_len].astype(np.int64)
            tokens = np.empty((B, span), dtype=np.int64)
            loops.copy_windows(self._bins[0], starts, self._rows(B), 0, B, tokens)
            return tokens
        f = fs.searchsorted(starts, "right") - 1  # (B,) file holding each window's first token
        local = starts - fs[f]  # (B,) offset in that file
        inside = local + span <= fs[f + 1] - fs[f]
        one_file = f[0] == f[-1] and (f == f[0]).all()
        if loops is None and one_file and inside.all():
            rows_in = (local - self._view_shift[f]) // self.seq_len  # (B,) row in that file's view
            return self._views[int(f[0])][rows_in].astype(np.int64)
        tokens = np.empty((B, span), dtype=np.int64)
        bins = self._bins
        if loops is not None:
            if one_file and inside.all():
                loops.copy_windows(bins[int(f[0])], local, self._rows(B), 0, B, tokens)
                return tokens
            rows = np.flatnonzero(inside)
            rows = rows[np.argsort(f[rows], kind="stable")]  # (m,) the rows inside a file, grouped by file
            g = f[rows]
            bounds = [0, *(np.flatnonzero(g[1:] != g[:-1]) + 1).tolist(), len(rows)] if len(rows) else [0]
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                loops.copy_windows(bins[int(g[lo])], local, rows, lo, hi, tokens)
            for b in np.flatnonzero(~inside).tolist():  # crosses into the next file
                s = int(starts[b])
                tokens[b] = self._slice(s, s + span)
            return tokens
        # spread over files, without numba: a slice per window, like raw slicing (on a 2-core box a
        # fancy index per file cost more, even grouping a block's windows by file: measured in
        # benchmarks/bench_shards.py)
        for b, (g, o, ok) in enumerate(zip(f.tolist(), local.tolist(), inside.tolist())):
            if ok:
                tokens[b] = bins[g][o:o + span]  # converted to int64 in the copy
            else:  # crosses into the next file
                s = o + self._starts_list[g]
                tokens[b] = self._slice(s, s + span)
        return tokens

    def _rows(self, B: int) -> np.ndarray:
        """int64 (B,) 0..B-1, kept between calls (the rows of a block that lies in one file)."""
        if len(self._arange) < B:
            self._arange = np.arange(B, dtype=np.int64)
        return self._arange

    def _doc_ids(self, picks: np.ndarray) -> np.ndarray:
        """doc_id_dtype (B, T+1) for windows `picks`: per window, the number of document starts in
        (start, start + i].

        Each window's runs of equal ids were laid out once at opening (_run_table), so a block
        needs only each run written as a constant: one numba loop that fills run after run
        (tokenizer/windows.py). Without numba: a padded gather of the windows' run lengths (runs
        past a window's own count zeroed) and one np.repeat, ten numpy calls per block whatever its
        size, but np.repeat copies one element at a time (about four times slower than the fills).
        (A cumulative sum over boundary marks costs about three times the np.repeat per token.)
        """
        B, span = len(picks), self.seq_len + 1
        loops = _numba_loops()
        if loops is not None:  # each run written as one fill (tokenizer/windows.py)
            out = np.empty((B, span), dtype=self.doc_id_dtype)
            loops.fill_ids(self._runs, self._run_off, self._run_count, np.asarray(picks, dtype=np.int64), out)
            return out
        count = self._run_count[picks]  # (B,) document starts inside each window
        k = int(count.max()) if B else 0
        if k == 0:  # no window holds a document start
            return np.zeros((B, span), dtype=self.doc_id_dtype)
        cols = self._cols[:k + 1]
        lengths = self._runs.take(self._run_off[picks][:, None] + cols, mode="clip")  # (B, k+1)
        lengths *= cols <= count[:, None]  # zero the next window's runs
        return np.repeat(self._run_ids(B, k), lengths.ravel()).reshape(B, span)

    def _run_ids(self, B: int, k: int) -> np.ndarray:
        """doc_id_dtype (B*(k+1),): 0..k once per window (the id of each run), cached per (B, k)."""
        ids = self._run_ids_cache.get((B, k))
        if ids is None:
            if len(self._run_ids_cache) > 64:
                self._run_ids_cache.clear()
            ids = self._run_ids_cache[(B, k)] = np.tile(np.arange(k + 1, dtype=self.doc_id_dtype), B)
        return ids

    def _advance_epoch(self) -> None:
        self.epoch, self.position, self._order, self._block = self.epoch + 1, 0, None, None

    def _take(self, batch_size: int) -> np.ndarray:
        """The next `batch_size` window numbers, advancing the position (and the epoch when one ends)."""
        picks, need = [], batch_size
        while need > 0:
            order = self._windows()
            if self.position >= len(order):
                self._advance_epoch()
                continue
            got = order[self.position:self.position + need]
            picks.append(got)
            self.position += len(got)
            need -= len(got)
        return np.concatenate(picks) if picks else np.zeros(0, np.int64)

    def _block_at(self, p: int, count: int, with_ids: bool) -> _Block:
        """The read-ahead block holding positions [p, p + count) of this epoch's order (p + count must
        not pass the epoch's end): the current one when it does, else a new one of about read_ahead_tokens
        starting at p (a multiple of `count` windows, so batches of that size line up with it)."""
        blk = self._block
        if blk is None or blk.epoch != self.epoch or not blk.start <= p <= p + count <= blk.start + len(blk.picks):
            n = count * max(1, self.read_ahead_tokens // ((self.seq_len + 1) * count))
            picks = self._windows()[p:p + n].astype(np.int64, copy=False)
            blk = self._block = _Block(self.epoch, p, picks, self._tokens(picks * self.seq_len))
        if with_ids and blk.doc_ids is None:
            blk.doc_ids = self._doc_ids(blk.picks)
        return blk

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Windows from the current position to the end of this epoch, as row views of read-ahead
        blocks (each row is handed out once). The position still advances one window per step, so
        state_dict() is exact, and a position moved by load_state_dict() (or next_batch) mid-epoch
        is followed: each step checks that neither the position nor the block changed under it.
        A block's row views are made once, in C (`list(array)`), not one indexing per step."""
        n = self.windows_per_rank  # the length of every epoch's order
        while self.position < n:
            p, blk = self.position, self._block
            if blk is None or blk.doc_ids is None or blk.epoch != self.epoch or not 0 <= p - blk.start < len(blk.picks):
                blk = self._block_at(p, 1, True)
            if blk.rows is None:
                blk.rows = list(zip(list(blk.tokens), list(blk.doc_ids)))
            for row in blk.rows[p - blk.start:]:
                p += 1
                self.position = p
                yield row
                if self.position != p or self._block is not blk:
                    break
        self._advance_epoch()

    def next_batch(self, batch_size: int, doc_ids: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """The next `batch_size` windows, stacked: int64 (B, T+1), doc_id_dtype (B, T+1); wraps epochs.
        `doc_ids=False` returns None for them (plain causal training).

        Same windows as iterating. They come as row slices of a read-ahead block of about 2**19
        tokens (`read_ahead_tokens`) fetched in one go: one compiled copy per file for the tokens
        and one compiled fill for the document ids (tokenizer/windows.py), whatever the block's
        size, so the per-call cost is spread over many windows. The arrays are views of that block: each row is
        handed out once, and a batch kept alive keeps its block (about 4.5 MB) alive.
        """
        p, blk = self.position, self._block
        if (blk is not None and blk.epoch == self.epoch and blk.start <= p and p + batch_size <= blk.start + len(blk.picks)
                and batch_size > 0 and (blk.doc_ids is not None or not doc_ids)):  # the common case, kept short
            i = p - blk.start
            self.position = p + batch_size
            return blk.tokens[i:i + batch_size], (blk.doc_ids[i:i + batch_size] if doc_ids else None)
        if p >= self.windows_per_rank:
            self._advance_epoch()
            p = 0
        if batch_size <= 0 or p + batch_size > self.windows_per_rank:  # crosses the epoch's end: direct
            return self._gather(self._take(max(batch_size, 0)).astype(np.int64, copy=False), doc_ids)
        blk = self._block_at(p, batch_size, doc_ids)
        self.position = p + batch_size
        i = p - blk.start
        return blk.tokens[i:i + batch_size], (blk.doc_ids[i:i + batch_size] if doc_ids else None)

    # ------------------------------------------------------------ resuming

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "seq_len": self.seq_len,
                "rank": self.rank, "world_size": self.world_size, "split": self.split,
                "shuffle": self.shuffle, "fingerprint": self.fingerprint, "n_tokens": self.n_tokens}

    def load_state_dict(self, state: dict) -> None:
        for key in ("seed", "seq_len", "world_size", "split", "shuffle", "fingerprint", "n_tokens"):
            if state.get(key) != getattr(self, key):
                raise ShardError(f"cannot resume: the saved reader had {key}={state.get(key)!r}, this one has "
                                 f"{getattr(self, key)!r}; open the reader with the same settings and shards")
        self.epoch, self.position, self._order = int(state["epoch"]), int(state["position"]), None
        self._block = None  # never hand out a row twice (the caller may have written to it)


@functools.cache
def _numba_loops():
    """tokenizer/windows.py, imported on first use (numba's import is not free), or None where
    numba cannot be imported (then numpy does the work)."""
    try:
        from thresher.tokenizer import windows
    except ImportError:  # pragma: no cover - numba is a core dependency
        return None
    return windows


def doc_id_dtype(most: int) -> np.dtype:
    """The narrowest type for window-relative document ids up to `most` (the most document starts
    inside one window; ids run 0..most).

    >>> doc_id_dtype(3), doc_id_dtype(255), doc_id_dtype(256), doc_id_dtype(70000)
    (dtype('uint8'), dtype('uint8'), dtype('uint16'), dtype('int32'))
    """
    for t in (np.uint8, np.uint16):
        if most <= np.iinfo(t).max:
            return np.dtype(t)
    return np.dtype(np.int32)


def _run_table(doc_starts: np.ndarray, n_tokens: int, seq_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of equal document ids of every window, laid out once for all epochs.

    Window w covers tokens [w*T, w*T + T]; a document starting at b with w*T < b <= w*T + T starts
    a new run in window w (and in no other: the windows' (start, end] ranges tile the stream). An
    empty document starts where the next one does and adds no run. Returns
    runs int32 (n_boundaries + n_windows,): window after window, the lengths of its runs (count + 1
    of them, summing to T+1); run_off int64 (n_windows,): where each window's runs begin;
    run_count int32 (n_windows,): the document starts inside each window.
    """
    T, span = seq_len, seq_len + 1
    n_windows = max(0, (n_tokens - 1) // T)
    ds = np.asarray(doc_starts, dtype=np.int64)
    if len(ds):
        ds = ds[np.concatenate([[True], ds[1:] != ds[:-1]])]  # distinct starts (sorted already)
    owner = (ds - 1) // T  # (n,) the window each start falls in (start 0 falls in none: owner -1)
    inside = (owner >= 0) & (owner < n_windows)
    ds, owner = ds[inside], owner[inside]
    count = np.bincount(owner, minlength=n_windows).astype(np.int64)  # (n_windows,)
    run_off = np.cumsum(count + 1) - (count + 1)  # (n_windows,)
    ends = np.full(int(count.sum()) + n_windows, span, dtype=np.int64)  # each run's end, within its window
    nth = np.arange(len(ds)) - (np.cumsum(count) - count)[owner]  # the j-th start of its window
    ends[run_off[owner] + nth] = ds - owner * T
    begins = np.empty_like(ends)
    begins[1:] = ends[:-1]
    begins[run_off] = 0
    return (ends - begins).astype(np.int32), run_off, count.astype(np.int32)


def _window_view(tokens: np.ndarray, shift: int, seq_len: int) -> np.ndarray:
    """Read-only (n, T+1) view of one file's windows: row k is tokens[shift + k*T : shift + k*T + T + 1]
    (rows overlap by one token). `shift` aligns rows to the global window grid (the file's first
    global offset is not a multiple of T in general). Nothing is copied until rows are indexed."""
    span, item = seq_len + 1, tokens.itemsize
    n = max(0, (len(tokens) - shift - span) // seq_len + 1)
    base = tokens[shift:] if shift < len(tokens) else tokens[:0]
    return np.lib.stride_tricks.as_strided(base, (n, span), (seq_len * item, item), writeable=False)
