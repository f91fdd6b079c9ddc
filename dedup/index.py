"""The dedup index on disk: fingerprints per rank, as numpy files that later steps memory-map.

    <index>/params.json           the fingerprinting parameters (an index is comparable only with
                                  one made with the same values)
    <index>/keys/<rank>.npy       (n, slots) uint64: exact key, then LSH band keys (0: none)
    <index>/sig/<rank>.npy        (n, num_perm) uint32 MinHash signatures
    <index>/meta/<rank>.parquet   id, group, status, score, length, check, phash, color, tie: one row each
                                  (tie: 64 bits of blake2b of the id, the survivor rule's last word)
    <index>/sets/<rank>.npy       (total, 1) uint32 shingle sets (sorted unique hashes), row after row,
    <index>/sets/<rank>.end.npy   (n, 1) int64 where each row's set ends (when params.shingle_sets)
    <index>/assign/<rank>.npz     written by the cluster step: what happened to each row

Global row numbers run over the ranks in order, then over earlier indexes (incremental runs), so
one int64 names any record. Every file is streamed batch by batch under a temporary name and
renamed when the rank is done (keys last), so a rank of any size needs one batch of memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from thresher.dedup.features import Fingerprints, Params

from thresher.arrow import from_numpy, strings, to_numpy
from thresher.errors import StageError

INDEX_VERSION = 3  # 2: shingle sets; 3: tie (the same survivors whatever the task count)
INFO_FIELDS = ("group", "status", "score", "length", "check", "phash", "color")


def _atomic_save(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


def tie_keys(ids: list[str]) -> np.ndarray:
    """(n,) uint64: 64 bits of blake2b of each record id. The survivor rule's last tie-break before
    the row number, so that equal records keep the same survivor however the extract folder is dealt
    to tasks (the row numbers change with the task count; the ids do not)."""
    return np.frombuffer(b"".join(hashlib.blake2b(i.encode("utf-8", "surrogatepass"), digest_size=8).digest()
                                  for i in ids), dtype="<u8").copy() if ids else np.zeros(0, np.uint64)


def rank_name(rank: int) -> str:
    return f"{rank:05d}"


def write_params(folder: Path, p: Params) -> None:
    """Record the parameters; an index folder that already holds different ones is an error."""
    path = Path(folder) / "params.json"
    record = {"version": INDEX_VERSION, **asdict(p), "source_priority": list(p.source_priority)}
    if path.is_file():
        old = json.loads(path.read_text())
        if old != record:
            raise StageError(f"{folder} was made with other dedup settings ({_diff(old, record)}); "
                             "rerun the dedup stage with --force to rebuild it")
        return
    _atomic_save(path, lambda f: f.write(json.dumps(record, indent=1).encode()))


def check_earlier(folders: list[str], p: Params) -> None:
    """Fail before any work if an earlier index is missing or was made with other settings."""
    here = p.comparable()
    for folder in folders:
        path = Path(folder) / "params.json"
        if not path.is_file():
            raise StageError(f"dedup.index: {folder} is not a dedup index (no params.json); point it at an earlier "
                             "run's WORKDIR/dedup/_index")
        record = json.loads(path.read_text())
        old = {k: v for k, v in record.items() if k in here}
        if old != here:
            raise StageError(f"dedup.index: {folder} was made with other settings ({_diff(old, here)}); "
                             "use the same dedup settings as that run")
        if p.shingle_sets and not record.get("shingle_sets"):
            raise StageError(f"dedup.index: {folder} holds no shingle sets (made with dedup.verify other than exact, "
                             "or by an older thresher), so its records cannot be verified exactly; set "
                             "dedup.verify: signature, or rebuild that index")


def _diff(a: dict, b: dict) -> str:
    return ", ".join(f"{k}: {a.get(k)!r} here, {b.get(k)!r} now" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


class _NpyAppender:
    """A 2-D .npy file written one block of rows at a time: a fixed-size header is rewritten with
    the final shape at `close` (the format allows header padding), so no rows are held in memory."""

    HEADER = 128  # bytes: magic (6) + version (2) + length (2) + the header dict padded with spaces

    def __init__(self, path: Path, dtype: np.dtype, width: int):
        self.path, self.dtype, self.width, self.rows = path, np.dtype(dtype), width, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(path.name + ".tmp")
        self.f = open(self.tmp, "wb")
        self.f.write(b"\0" * self.HEADER)

    def append(self, block: np.ndarray) -> None:
        assert block.ndim == 2 and block.shape[1] == self.width, block.shape
        self.f.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self.rows += block.shape[0]

    def close(self) -> None:
        header = repr({"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                       "shape": (self.rows, self.width)}).encode("latin1")
        pad = self.HEADER - 10 - len(header) - 1
        self.f.seek(0)
        self.f.write(b"\x93NUMPY\x01\x00" + (self.HEADER - 10).to_bytes(2, "little") + header + b" " * pad + b"\n")
        self.f.close()
        os.replace(self.tmp, self.path)


META_SCHEMA = pa.schema([("id", pa.string()), ("group", pa.uint8()), ("status", pa.uint8()), ("score", pa.float64()),
                         ("length", pa.float64()), ("check", pa.uint64()), ("phash", pa.uint64()), ("color", pa.uint64()),
                         ("tie", pa.uint64())])


class RankWriter:
    """Streams one rank's fingerprints into the index: `append` per batch, `close` at the end."""

    def __init__(self, folder: Path, rank: int, p: Params):
        folder, name = Path(folder), rank_name(rank)
        self.sig = _NpyAppender(folder / "sig" / f"{name}.npy", np.uint32, p.num_perm)
        self.keys = _NpyAppender(folder / "keys" / f"{name}.npy", np.uint64, p.slots)
        self.meta_path = folder / "meta" / f"{name}.parquet"
        self.meta_path.parent.mkdir(parents=True, exist_ok=True)
        self.meta = pq.ParquetWriter(str(self.meta_path) + ".tmp", META_SCHEMA)
        self.sets = self.ends = None
        if p.shingle_sets:
            self.sets = _NpyAppender(folder / "sets" / f"{name}.npy", np.uint32, 1)
            self.ends = _NpyAppender(folder / "sets" / f"{name}.end.npy", np.int64, 1)

    def append(self, fp: Fingerprints, ids: list[str]) -> None:
        self.sig.append(fp.sig)
        values = {**{k: getattr(fp, k) for k in INFO_FIELDS}, "tie": tie_keys(ids)}
        self.meta.write_table(pa.Table.from_arrays(
            [strings(ids), *(from_numpy(values[f.name], f.type) for f in list(META_SCHEMA)[1:])], schema=META_SCHEMA))
        if self.sets is not None:
            self.ends.append((self.sets.rows + np.cumsum(fp.set_len))[:, None])
            self.sets.append(fp.sets[:, None])
        self.keys.append(fp.keys)

    def close(self) -> None:
        self.sig.close()
        if self.sets is not None:
            self.sets.close()
            self.ends.close()
        self.meta.close()
        os.replace(str(self.meta_path) + ".tmp", self.meta_path)
        self.keys.close()  # last: its presence marks the rank done


class Index:
    """A read-only view of one index folder (all its ranks)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not (self.folder / "params.json").is_file():
            raise StageError(f"{self.folder} is not a dedup index (no params.json); point dedup.index at an "
                             "earlier run's WORKDIR/dedup/_index")
        self.params = json.loads((self.folder / "params.json").read_text())
        self.ranks = sorted(int(p.stem) for p in (self.folder / "keys").glob("*.npy"))
        self._keys = [np.load(self.folder / "keys" / f"{rank_name(r)}.npy", mmap_mode="r") for r in self.ranks]
        self.sizes = np.array([k.shape[0] for k in self._keys], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self._sig = self._sets = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def keys(self, slot: int) -> np.ndarray:
        """(n,) uint64: one key column over all ranks."""
        if not self._keys:
            return np.zeros(0, np.uint64)
        return np.concatenate([np.asarray(k[:, slot]) if slot < k.shape[1] else np.zeros(k.shape[0], np.uint64)
                               for k in self._keys])

    def info(self, field: str) -> np.ndarray:
        """(n,) one fingerprint field (INFO_FIELDS, or "tie") over all ranks; "tie" of an index made
        before it existed (version 2) is 0 everywhere (its rows then tie-break by row, as they did)."""
        parts = []
        for r, size in zip(self.ranks, self.sizes):
            path = self.folder / "meta" / f"{rank_name(r)}.parquet"
            if field == "tie" and "tie" not in pq.read_schema(path).names:
                parts.append(np.zeros(size, np.uint64))
                continue
            parts.append(to_numpy(pq.ParquetFile(path).read(columns=[field]).column(field)))
        return np.concatenate(parts) if parts else np.zeros(0)

    def sig_rows(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), num_perm) signatures of global rows, gathered from the memory-mapped files."""
        if self._sig is None:
            self._sig = [np.load(self.folder / "sig" / f"{rank_name(r)}.npy", mmap_mode="r") for r in self.ranks]
        out = np.empty((rows.size, int(self.params["num_perm"])), dtype=np.uint32)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for i in np.unique(which):
            m = which == i
            out[m] = self._sig[i][rows[m] - self.offsets[i]]
        return out

    def _set_files(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self._sets is None:
            if not self.params.get("shingle_sets"):
                raise StageError(f"{self.folder} holds no shingle sets (made with dedup.verify other than exact): "
                                 "rerun its dedup stage with --force, or set dedup.verify: signature")
            self._sets = [(np.load(self.folder / "sets" / f"{rank_name(r)}.npy", mmap_mode="r")[:, 0],
                           np.load(self.folder / "sets" / f"{rank_name(r)}.end.npy", mmap_mode="r")[:, 0])
                          for r in self.ranks]
        return self._sets

    def _set_bounds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rank file, start, end) of each global row's shingle set."""
        files = self._set_files()
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        start, end = np.zeros(rows.size, np.int64), np.zeros(rows.size, np.int64)
        for i in np.unique(which):
            m = which == i
            local, ends = rows[m] - self.offsets[i], files[i][1]
            end[m] = ends[local]
            start[m] = np.where(local > 0, ends[np.maximum(local - 1, 0)], 0)
        return which, start, end

    def set_sizes(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) int64 shingle set sizes of global rows."""
        _, start, end = self._set_bounds(rows)
        return end - start

    def sets(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The shingle sets of global rows, gathered from the memory-mapped files: (values, offsets),
        row k's set at values[offsets[k]:offsets[k+1]]."""
        which, start, end = self._set_bounds(rows)
        offsets = np.zeros(rows.size + 1, np.int64)
        np.cumsum(end - start, out=offsets[1:])
        out = np.empty(int(offsets[-1]), np.uint32)
        files = self._set_files()
        for i in np.unique(which):
            m = np.flatnonzero(which == i)
            lens = end[m] - start[m]
            rep = np.repeat(np.arange(m.size), lens)  # which of these rows each value belongs to
            t = np.arange(rep.size) - np.repeat(np.cumsum(lens) - lens, lens)  # position inside its set
            out[offsets[m][rep] + t] = files[i][0][start[m][rep] + t]
        return out, offsets

    def ids(self, rows: np.ndarray) -> np.ndarray:
        """The record ids of global rows."""
        out = np.empty(rows.size, dtype=object)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for i in np.unique(which):
            m = which == i
            ids = pq.ParquetFile(self.folder / "meta" / f"{rank_name(self.ranks[i])}.parquet").read(columns=["id"])["id"]
            out[m] = ids.take(from_numpy(rows[m] - self.offsets[i])).to_pylist()
        return out

    def kept(self) -> np.ndarray:
        """(n,) bool: rows that survived this index's own run (what a later run dedups against)."""
        parts = []
        for r in self.ranks:
            path = self.folder / "assign" / f"{rank_name(r)}.npz"
            if not path.is_file():
                raise StageError(f"{self.folder} has no cluster results for rank {r}: its dedup run did not finish")
            with np.load(path) as z:
                parts.append(z["action"] <= KEPT_IN_CLUSTER)
        return np.concatenate(parts) if parts else np.zeros(0, bool)


# assign/<rank>.npz: action (n,) uint8, cluster (n,) int64 global row of the survivor (-1: none)
KEPT, KEPT_IN_CLUSTER, EXACT, NEAR, FAILED_ROW = 0, 1, 2, 3, 4
REASONS = {EXACT: "exact_duplicate", NEAR: "near_duplicate"}


class IndexSet:
    """This run's index followed by earlier runs' indexes, under one global row numbering."""

    def __init__(self, current: Index, earlier: list[Index]):
        self.parts = [current, *earlier]
        for old in earlier:
            mine = {k: v for k, v in old.params.items() if k in ("num_perm", "seed", "ngram", "bands", "rows",
                                                                  "midi_ngram", "image_max_distance")}
            here = {k: current.params[k] for k in mine}
            if mine != here:
                raise StageError(f"the earlier index {old.folder} was made with other settings ({_diff(mine, here)}); "
                                 "set the same dedup settings or rebuild it")
        self.offsets = np.concatenate([[0], np.cumsum([len(p) for p in self.parts])]).astype(np.int64)
        self.n_current = len(current)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def keys(self, slot: int) -> np.ndarray:
        return np.concatenate([p.keys(slot) for p in self.parts])

    def info(self, field: str) -> np.ndarray:
        return np.concatenate([p.info(field) for p in self.parts])

    def usable(self) -> np.ndarray:
        """(n,) bool: rows that take part: this run's fingerprinted rows, earlier runs' survivors."""
        status = self.parts[0].info("status") == 0
        return np.concatenate([status, *[p.kept() for p in self.parts[1:]]])

    def _split(self, rows: np.ndarray, fn) -> np.ndarray:
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        out = None
        for i in np.unique(which):
            m = which == i
            got = fn(self.parts[i], rows[m] - self.offsets[i])
            if out is None:
                out = np.empty((rows.size, *got.shape[1:]), dtype=got.dtype)
            out[m] = got
        return out if out is not None else np.zeros(0)

    def sig_rows(self, rows: np.ndarray) -> np.ndarray:
        return self._split(rows, Index.sig_rows)

    def ids(self, rows: np.ndarray) -> np.ndarray:
        return self._split(rows, Index.ids)

    def set_sizes(self, rows: np.ndarray) -> np.ndarray:
        return self._split(rows, Index.set_sizes).astype(np.int64)

    def sets(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, offsets) of the shingle sets of global rows, over this run and earlier runs."""
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        if which.size and (which == which[0]).all():  # the usual case: all in one index
            return self.parts[which[0]].sets(rows - self.offsets[which[0]])
        sizes = self.set_sizes(rows)
        offsets = np.zeros(rows.size + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        out = np.empty(int(offsets[-1]), np.uint32)
        owner = np.repeat(np.arange(rows.size), sizes)
        for i in np.unique(which):
            m = np.flatnonzero(which == i)
            vals, _ = self.parts[i].sets(rows[m] - self.offsets[i])
            out[np.isin(owner, m)] = vals  # rows keep their order inside each part
        return out, offsets
