"""numpy <-> arrow for flat columns, without pyarrow's pandas check.

pyarrow imports pandas (0.15-0.2 s) at its first `pa.array` or `pa.table` of Python or numpy values
and at its first `Array.to_numpy`, even for plain integers: it asks whether the values are pandas
objects. The dedup stage makes and reads arrays in every worker and moves 15 MB in about a second,
so that import was a sixth of its stage time. These build arrays from their buffers (the Arrow
columnar format: a validity bitmap, then values, or offsets and bytes for strings), which pyarrow
takes without the check; hand-written because pyarrow has no pandas-free public route.

>>> to_numpy(from_numpy(np.array([3, 1], np.uint64))).tolist()
[3, 1]
>>> strings(["a", "bc"]).to_pylist()
['a', 'bc']
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

_INT32_MAX = 2**31 - 1
_NUMPY = {pa.from_numpy_dtype(np.dtype(t)): np.dtype(t) for t in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")}


def from_numpy(values: np.ndarray, type: pa.DataType | None = None) -> pa.Array:
    """A 1-D numpy array of numbers or bools as an arrow array without nulls, of `type` if given
    (the values converted to it as numpy converts), else of the array's own type. Numbers: no copy
    of a contiguous array of that type; bools are packed into arrow's bitmap."""
    if type is None:
        values = np.asarray(values)
    elif pa.types.is_boolean(type):
        values = np.asarray(values, dtype=bool)
    elif type in _NUMPY:
        values = np.asarray(values, dtype=_NUMPY[type])
    else:
        raise TypeError(f"from_numpy makes numbers or bools, not {type}")
    if values.ndim != 1:
        raise ValueError(f"from_numpy takes a 1-D array, not shape {values.shape}")
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), values.size, [None, pa.py_buffer(bits)])
    if values.dtype.kind not in "iuf":
        raise TypeError(f"from_numpy takes numbers or bools, not {values.dtype}; use strings() for text")
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), values.size, [None, pa.py_buffer(values)])


def strings(values: Sequence[str]) -> pa.Array:
    """Python strings as an arrow string array (large_string past 2 GiB of text)."""
    encoded = [v.encode("utf-8", "surrogatepass") for v in values]
    ends = np.cumsum([len(b) for b in encoded], dtype=np.int64)
    total = int(ends[-1]) if ends.size else 0
    offsets = np.concatenate([np.zeros(1, np.int64), ends])
    kind = pa.string()
    if total <= _INT32_MAX:
        offsets = offsets.astype(np.int32)
    else:
        kind = pa.large_string()
    return pa.Array.from_buffers(kind, len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric or bool arrow column without nulls as numpy (numbers in one chunk: a read-only view,
    no copy). A column with nulls, or of another type, goes through pyarrow's own `to_numpy`."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = column.type
    if column.null_count or not (kind in _NUMPY or pa.types.is_boolean(kind)):
        return column.to_numpy(zero_copy_only=False)
    data = column.buffers()[1]
    if pa.types.is_boolean(kind):
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        return bits[column.offset:column.offset + len(column)].astype(bool)
    dtype = _NUMPY[kind]
    return np.frombuffer(data, dtype, count=len(column), offset=column.offset * dtype.itemsize)


def set_column(batch: pa.RecordBatch, name: str, values: pa.Array) -> pa.RecordBatch:
    """The batch with one column's values replaced (cast to the column's type)."""
    i = batch.schema.get_field_index(name)
    if i < 0:
        raise KeyError(f"the batch has no column {name!r} (it has {batch.schema.names})")
    arrays = list(batch.columns)
    arrays[i] = values.cast(batch.schema.field(i).type)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)
