"""What dedup needs to know about each record: its exact key, its LSH keys and its survivor score.

One `Fingerprints` per batch of records (arrays, one row per record), made by `fingerprint`:

    group   (n,) uint8    which namespace the record dedups in (GROUPS); 0 for a failed record
    status  (n,) uint8    OK or FAILED (the reason is returned apart and written to _errors)
    score   (n,) float64  the survivor rule's score (higher survives)
    length  (n,) float64  size of the content (characters, pixels, samples, notes, bytes): tie-break
    check   (n,) uint64   64 more bits of the exact hash, compared when two exact keys meet
    phash   (n,) uint64   perceptual hash of images and GIFs (0: none)
    color   (n,) uint64   mean colour of the quarters of images and GIFs (images.color_code)
    keys    (n, slots) uint64  slot 0: exact key; slots 1..: LSH band keys (0: none)
    sig     (n, num_perm) uint32  MinHash signature of text-like and MIDI records (EMPTY: none)
    sets    (total,) uint32  shingle sets of text-like and MIDI records (when `Params.shingle_sets`):
            sorted unique 32-bit shingle hashes, row after row; set_len (n,) int64 their sizes

Exact content per kind: text, PDF and EPUB text NFKC-normalised with whitespace folded; images
and GIFs their decoded pixels; audio its decoded PCM; MIDI its note events; anything else its
bytes. Text and books (PDF, EPUB) get MinHash bands over word n-grams; MIDI over pitch-interval
n-grams; images and GIFs pHash chunks.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa
from datatrove.data import Document
from thresher.dedup import images, midi
from thresher.dedup.fold import fold_text, fold_texts
from thresher.dedup.lsh import band_keys
from thresher.dedup.minhash import EMPTY, MinHasher
from thresher.dedup.shingles import shingle_sets

from thresher.errors import RecordError
from thresher.records import Kind, media_bytes, row_to_document

__all__ = ["FEATURES", "Feature", "Fingerprinter", "Fingerprints", "Params", "Rows", "fold_text"]

# dedup namespaces; the numbers are stored in the index, so they never change
GROUPS = {"text": 1, "book": 2, "image": 3, "gif": 4, "audio": 5, "midi": 6, "blob": 7}
OK, FAILED = 0, 1


@dataclass
class Params:
    """The fingerprinting parameters; an index made with other values cannot be compared."""

    num_perm: int
    seed: int
    ngram: int
    bands: int
    rows: int
    midi_ngram: int
    image_max_distance: int
    survivor: str
    source_priority: tuple[str, ...] = ()
    shingle_sets: bool = True  # keep each record's shingle set in the index, for exact verification

    @property
    def slots(self) -> int:
        return 1 + max(self.bands, self.image_max_distance + 1)

    def comparable(self) -> dict:
        """The fields two indexes must share to be deduplicated against each other."""
        return {k: getattr(self, k) for k in ("num_perm", "seed", "ngram", "bands", "rows", "midi_ngram",
                                              "image_max_distance")}


@dataclass
class Fingerprints:
    group: np.ndarray
    status: np.ndarray
    score: np.ndarray
    length: np.ndarray
    check: np.ndarray
    phash: np.ndarray
    color: np.ndarray
    keys: np.ndarray
    sig: np.ndarray
    sets: np.ndarray
    set_len: np.ndarray

    @classmethod
    def empty(cls, n: int, p: Params) -> "Fingerprints":
        return cls(np.zeros(n, np.uint8), np.zeros(n, np.uint8), np.zeros(n), np.zeros(n), np.zeros(n, np.uint64),
                   np.zeros(n, np.uint64), np.zeros(n, np.uint64), np.zeros((n, p.slots), np.uint64),
                   np.full((n, p.num_perm), EMPTY, np.uint32), np.zeros(0, np.uint32), np.zeros(n, np.int64))


def _key128(group: str, payload: bytes) -> tuple[int, int]:
    d = hashlib.blake2b(payload, digest_size=16, person=group.encode()[:16]).digest()
    key, check = int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little")
    return key or 1, check


def _media(doc: Document) -> bytes:
    if not doc.media:
        raise RecordError("missing_media", f"a {doc.metadata.get('kind')} record without media")
    try:
        data = media_bytes(doc.media[0])
    except (OSError, ValueError) as e:
        raise RecordError("missing_media", f"cannot read the media bytes: {type(e).__name__}: {e}") from None
    if not data:
        raise RecordError("missing_media", "the media bytes are empty")
    return data


def _audio_pcm(data: bytes) -> tuple[bytes, int]:
    import soundfile as sf

    try:
        pcm, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise RecordError("undecodable_media", f"soundfile cannot decode the audio: {type(e).__name__}: {e}") from None
    if pcm.size == 0:
        raise RecordError("empty_media", "the audio has no samples")
    return np.ascontiguousarray(pcm).tobytes() + rate.to_bytes(4, "little") + pcm.shape[1].to_bytes(2, "little"), pcm.shape[0]


def _pictures(doc: Document) -> tuple[bytes, float, tuple]:
    pictures = images.frames(images.open_image(_media(doc)))
    near = (images.phash(pictures[0]), images.color_code(pictures[0]))
    return images.pixel_key(pictures), float(sum(p.width * p.height for p in pictures)), near


def _audio(doc: Document) -> tuple[bytes, float, None]:
    pcm, samples = _audio_pcm(_media(doc))
    return pcm, float(samples), None


def _midi(doc: Document) -> tuple[bytes, float, np.ndarray | None]:
    events = midi.notes(_media(doc))
    if len(events) == 0:
        raise RecordError("empty_media", "the MIDI file has no notes")
    return midi.exact_key(events), float(len(events)), events if len(events) > 1 else None


def _bytes(doc: Document) -> tuple[bytes, float, None]:
    data = _media(doc)
    return data, float(len(data)), None


@dataclass(frozen=True)
class Feature:
    """How one kind dedups: its namespace (`group`), how near duplicates are found (`near`:
    minhash over word n-grams, midi: minhash over pitch intervals, phash, or None: exact only), and
    `read(doc) -> (exact payload, length, near-duplicate input)`, raising RecordError. Text kinds
    (near "minhash") have no `read`: the fingerprinter folds and hashes a batch's texts at once
    (fold_texts, then the MinHash kernel on the raw texts)."""

    group: str
    near: str | None
    read: Callable[[Document], tuple[bytes, float, object]] | None = None


# kind -> its feature; a kind missing here dedups as a blob (exact bytes)
FEATURES: dict[Kind, Feature] = {
    Kind.TEXT: Feature("text", "minhash"),
    Kind.PDF: Feature("book", "minhash"),
    Kind.EPUB: Feature("book", "minhash"),
    Kind.IMAGE: Feature("image", "phash", _pictures),
    Kind.GIF: Feature("gif", "phash", _pictures),
    Kind.AUDIO: Feature("audio", None, _audio),
    Kind.MIDI: Feature("midi", "midi", _midi),
    Kind.BLOB: Feature("blob", None, _bytes),
}
MINHASH_GROUPS = tuple(dict.fromkeys(f.group for f in FEATURES.values() if f.near in ("minhash", "midi")))
PHASH_GROUPS = tuple(dict.fromkeys(f.group for f in FEATURES.values() if f.near == "phash"))


def _row_sets(n: int, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Shingle sets of some rows per group (rows, values, offsets) -> (all rows' sets in row
    order, (n,) set sizes)."""
    size = np.zeros(n, np.int64)
    for rows, _, offsets in parts:
        size[rows] = np.diff(offsets)
    if len(parts) == 1:  # one kind in the batch: its rows are in order already
        return parts[0][1], size
    owner = np.concatenate([np.repeat(rows, np.diff(offsets)) for rows, _, offsets in parts])
    order = np.argsort(owner, kind="stable")  # keeps each set sorted
    return np.concatenate([values for _, values, _ in parts])[order], size


class Rows:
    """A batch of records as the fingerprinter reads them: an arrow batch of SCHEMA rows (the
    dedup stage's; only the columns it needs become Python objects, and a record becomes a Document
    only when it is not text or fails), or a list of Documents."""

    def __init__(self, batch: pa.RecordBatch | list[Document]):
        self.batch = batch
        self.arrow = isinstance(batch, pa.RecordBatch)
        self.n = batch.num_rows if self.arrow else len(batch)
        self._columns: dict[str, list] = {}

    def __len__(self) -> int:
        return self.n

    def column(self, name: str) -> list:
        """One column's values: "id", "kind", "text" or a flat column such as "source"."""
        got = self._columns.get(name)
        if got is None:
            if self.arrow:
                got = self.batch.column(name).to_pylist()
            elif name in ("id", "text"):
                got = [getattr(d, name) for d in self.batch]
            else:
                got = [d.metadata.get(name) for d in self.batch]
            self._columns[name] = got
        return got

    def doc(self, i: int) -> Document:
        return row_to_document(self.batch.slice(i, 1).to_pylist()[0]) if self.arrow else self.batch[i]

    def one(self, i: int) -> "Rows":
        """Row i alone (to retry a batch that raised record by record)."""
        return Rows(self.batch.slice(i, 1) if self.arrow else [self.batch[i]])


class Fingerprinter:
    """Turns batches of records into `Fingerprints`; failures come back as (row, reason, detail)."""

    def __init__(self, p: Params):
        self.p = p
        self.hasher = MinHasher(p.num_perm, p.seed, p.ngram)
        self.priority = {name: i for i, name in enumerate(p.source_priority)}

    def __call__(self, batch: Rows | pa.RecordBatch | list[Document]) -> tuple[Fingerprints, list[tuple[int, str, str]]]:
        rows = batch if isinstance(batch, Rows) else Rows(batch)
        p, n = self.p, len(rows)
        fp = Fingerprints.empty(n, p)
        errors: list[tuple[int, str, str]] = []
        texts: dict[str, list[int]] = {}  # group -> rows of text records
        midis: list[tuple[int, np.ndarray]] = []
        for i, kind in enumerate(rows.column("kind")):
            feature = FEATURES.get(kind, FEATURES[Kind.BLOB])
            group = feature.group
            if feature.near == "minhash":  # all of a batch's text records at once, below
                texts.setdefault(group, []).append(i)
                continue
            doc = rows.doc(i)
            try:
                payload, length, extra = feature.read(doc)
            except RecordError as e:
                errors.append((i, e.reason, e.detail))
                fp.status[i] = FAILED
                continue
            self._exact(fp, rows, i, group, payload, length)
            if feature.near == "midi" and extra is not None:
                midis.append((i, extra))
            elif feature.near == "phash" and extra[0] is not None:
                fp.phash[i], fp.color[i] = extra
                fp.keys[i, 1:p.image_max_distance + 2] = images.phash_band_keys(
                    np.array([extra[0]], np.uint64), p.image_max_distance, GROUPS[group])[0]
        sets = []  # (rows, shingle hashes, offsets) per group, for the shingle sets
        kinds, raw = rows.column("kind"), rows.column("text") if texts else []
        for group, idx in texts.items():
            payloads, lengths = fold_texts([raw[i] or "" for i in idx])
            ok = [i for i, length in zip(idx, lengths) if length]
            for i, length in zip(idx, lengths):
                if not length:
                    errors.append((i, "empty_text", f"a {kinds[i]} record with no text to compare"))
                    fp.status[i] = FAILED
            if ok:
                at = np.array(ok)
                # the exact keys of the batch's texts at once: _key128's, without a Python int and
                # five array stores per record
                person = group.encode()[:16]
                digests = np.frombuffer(b"".join(hashlib.blake2b(payload, digest_size=16, person=person).digest()
                                                 for payload in payloads if payload), dtype="<u8").reshape(-1, 2)
                length = np.array([n for n in lengths if n], dtype=np.float64)
                fp.group[at], fp.length[at], fp.check[at] = GROUPS[group], length, digests[:, 1]
                fp.keys[at, 0] = np.where(digests[:, 0] == 0, 1, digests[:, 0])
                fp.score[at] = [self._score(rows, i, n) for i, n in zip(ok, length.tolist())]
                # the raw texts: the kernel NFKC-normalises and lower-cases them itself (most of
                # them without building the normalised string)
                got = self.hasher.signatures([raw[i] for i in ok], normalized=False, shingles=p.shingle_sets)
                fp.sig[at] = got[0] if p.shingle_sets else got
                fp.keys[at, 1:p.bands + 1] = band_keys(fp.sig[at], p.bands, p.rows, GROUPS[group])
                if p.shingle_sets:
                    sets.append((at, *got[1:]))  # already sets
        if midis:
            at = np.array([i for i, _ in midis])
            grams = [midi.interval_hashes(ev, p.midi_ngram) for _, ev in midis]
            offsets = np.zeros(len(grams) + 1, np.int64)
            np.cumsum([g.size for g in grams], out=offsets[1:])
            h32 = np.concatenate(grams)
            sig = self.hasher.from_hashes(h32, offsets)
            has = offsets[1:] > offsets[:-1]  # a single note has no interval: exact key only
            fp.sig[at[has]] = sig[has]
            fp.keys[at[has], 1:p.bands + 1] = band_keys(sig[has], p.bands, p.rows, GROUPS["midi"])
            if p.shingle_sets:
                sets.append((at, *shingle_sets(h32, offsets)))
        if sets:
            fp.sets, fp.set_len = _row_sets(n, sets)
        return fp, errors

    def _exact(self, fp: Fingerprints, rows: Rows, i: int, group: str, payload: bytes, length: float) -> None:
        fp.group[i] = GROUPS[group]
        fp.length[i] = length
        fp.score[i] = self._score(rows, i, length)
        key, fp.check[i] = _key128(group, payload)
        fp.keys[i, 0] = key

    def _score(self, rows: Rows, i: int, length: float) -> float:
        rule = self.p.survivor
        if rule == "longest":
            return length
        if rule == "quality":
            q = rows.column("quality_score")[i]
            return float(q) if q is not None else float("-inf")
        source = rows.column("source")[i] or ""
        return -float(self.priority.get(source, len(self.priority)))
