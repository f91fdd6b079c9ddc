"""numpy <-> arrow without pyarrow's pandas check (thresher/arrow.py): the same arrays pyarrow
makes, bad input refused with a clear error, and pandas never imported."""

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from thresher.arrow import from_numpy, strings, to_numpy


@pytest.mark.parametrize("values", [np.arange(7, dtype=np.uint64), np.array([-3, 5], np.int8),
                                    np.array([0.5, np.nan, -np.inf]), np.array([True, False, True] * 5),
                                    np.zeros(0, np.uint32), np.arange(10, dtype=np.int64)[::3]])
def test_numbers_and_bools_round_trip_as_pyarrow_makes_them(values):
    got, ref = from_numpy(values), pa.array(values)
    assert got.type == ref.type and len(got) == len(ref)
    assert np.array_equal(np.array(got.to_pylist(), dtype=values.dtype), values, equal_nan=values.dtype.kind == "f")
    back = to_numpy(got)
    assert back.dtype == values.dtype and np.array_equal(back, values, equal_nan=values.dtype.kind == "f")


def test_slices_and_chunks_read_back_at_their_offset():
    bits = from_numpy(np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1], bool))
    assert to_numpy(bits[3:]).tolist() == [True, False, False, True, False, True, True]
    nums = from_numpy(np.arange(6, dtype=np.uint16))
    assert to_numpy(nums[2:5]).tolist() == [2, 3, 4]
    assert to_numpy(pa.chunked_array([nums[4:], nums[:2]])).tolist() == [4, 5, 0, 1]


def test_a_target_type_converts_as_numpy_does():
    assert from_numpy(np.array([1, 2], np.int64), pa.uint8()).type == pa.uint8()
    assert from_numpy(np.array([1, 0]), pa.bool_()).to_pylist() == [True, False]
    assert from_numpy(np.array([3]), pa.float64()).to_pylist() == [3.0]


def test_strings_match_pyarrow():
    values = ["", "a", "größe", "日本語", "\U0001f600", "x" * 1000]
    assert strings(values).equals(pa.array(values, pa.string()))
    assert strings([]).to_pylist() == []


def test_columns_with_nulls_or_text_go_through_pyarrow():
    assert np.isnan(to_numpy(pa.array([1, None, 3]))[1])  # pyarrow's own: a null becomes NaN
    assert to_numpy(pa.array(["a", "b"])).tolist() == ["a", "b"]


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="1-D"):
        from_numpy(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="strings"):
        from_numpy(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="numbers or bools, not string"):
        from_numpy(np.array([1]), pa.string())
    with pytest.raises(AttributeError):
        strings([b"bytes are not text"])


def test_pandas_is_never_imported():
    code = ("import sys, numpy as np; from thresher.arrow import from_numpy, strings, to_numpy; "
            "to_numpy(from_numpy(np.arange(3))); to_numpy(from_numpy(np.ones(3, bool))); strings(['a']).to_pylist(); "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
