"""Megatron's indexed dataset format (`MMIDIDX`), written and read by hand.

megatron-core's `IndexedDataset` reads `PREFIX.bin` (the tokens of every sequence, back to back) and
`PREFIX.idx`. We write the format ourselves rather than import megatron-core (a large dependency
that only the tests need); the layout below is megatron-core's `_IndexWriter` / `_IndexReader`:

    .idx = b"MMIDIDX\\x00\\x00"          9 bytes, the magic
           version      <Q             1
           dtype code   <B             1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32, 8 uint16
           n_sequences  <Q
           n_documents  <Q             n_sequences + 1 here (one sequence per document)
           sizes        int32[n_sequences]      tokens per sequence
           pointers     int64[n_sequences]      byte offset of each sequence in .bin
           doc_indices  int64[n_documents]      sequence index where each document starts, then the end

thresher writes one sequence per document, so `doc_indices = [0, 1, ..., n]`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
DTYPE_CODES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32,
               8: np.uint16}
CODE_OF = {np.dtype(v): k for k, v in DTYPE_CODES.items()}
HEADER_BYTES = len(MAGIC) + 8 + 1 + 8 + 8


class IndexFormatError(ValueError):
    """An .idx file that is not a valid MMIDIDX index (truncated, wrong magic, wrong version)."""


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (ids < 65536), else int32 (DESIGN.md, "Shards").

    >>> token_dtype(32000 + 512 + 1024 + 613), token_dtype(70000)
    (dtype('uint16'), dtype('int32'))
    """
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.int32)


def index_bytes(sizes: np.ndarray, dtype: np.dtype) -> bytes:
    """The whole .idx content for sequences of `sizes` tokens (one sequence per document)."""
    sizes = np.asarray(sizes, dtype=np.int32)
    n = len(sizes)
    pointers = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(sizes[:-1].astype(np.int64) * np.dtype(dtype).itemsize, out=pointers[1:])
    doc_indices = np.arange(n + 1, dtype=np.int64)
    head = MAGIC + struct.pack("<Q", VERSION) + struct.pack("<B", CODE_OF[np.dtype(dtype)])
    head += struct.pack("<Q", n) + struct.pack("<Q", n + 1)
    return head + sizes.tobytes(order="C") + pointers.tobytes(order="C") + doc_indices.tobytes(order="C")


@dataclass
class Index:
    dtype: np.dtype
    sizes: np.ndarray  # int32 (n_sequences,)
    pointers: np.ndarray  # int64 (n_sequences,) byte offsets in .bin
    doc_indices: np.ndarray  # int64 (n_documents,)

    @property
    def n_tokens(self) -> int:
        return int(self.sizes.sum(dtype=np.int64))


def read_index(path: Path) -> Index:
    """Parse an .idx file; raise IndexFormatError saying what is wrong."""
    data = Path(path).read_bytes()
    if len(data) < HEADER_BYTES:
        raise IndexFormatError(f"{path}: {len(data)} bytes, shorter than the {HEADER_BYTES}-byte MMIDIDX header (truncated)")
    if data[: len(MAGIC)] != MAGIC:
        raise IndexFormatError(f"{path}: does not start with the MMIDIDX magic")
    pos = len(MAGIC)
    (version,) = struct.unpack_from("<Q", data, pos)
    (code,) = struct.unpack_from("<B", data, pos + 8)
    n_seq, n_doc = struct.unpack_from("<QQ", data, pos + 9)
    if version != VERSION:
        raise IndexFormatError(f"{path}: index version {version}, expected {VERSION}")
    if code not in DTYPE_CODES:
        raise IndexFormatError(f"{path}: unknown dtype code {code}")
    want = HEADER_BYTES + n_seq * 4 + n_seq * 8 + n_doc * 8
    if len(data) != want:
        raise IndexFormatError(f"{path}: {len(data)} bytes, expected {want} for {n_seq} sequences (truncated or corrupt)")
    off = HEADER_BYTES
    sizes = np.frombuffer(data, np.int32, n_seq, off)
    pointers = np.frombuffer(data, np.int64, n_seq, off + 4 * n_seq)
    doc_indices = np.frombuffer(data, np.int64, n_doc, off + 12 * n_seq)
    return Index(np.dtype(DTYPE_CODES[code]), sizes, pointers, doc_indices)
