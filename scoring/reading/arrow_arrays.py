"""Arrow arrays to and from numpy and Python strings without pyarrow's pandas detour. Pure.

pyarrow's Python-object conversions (`pa.array(list)`, `pa.scalar`, a Python number as a
compute argument) and its `to_numpy` ask whether pandas is involved, which imports pandas:
a third of a second of the participant's `python -m scoring check`, and of every reading
process, for nothing. These build and read the buffers directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

NUMPY_TYPES = {pa.int32(): np.int32, pa.int64(): np.int64, pa.float64(): np.float64}


def string_array(values: Sequence[str]) -> pa.StringArray:
    """The strings as an Arrow string array (no nulls)."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    large = pa.LargeStringArray.from_buffers(len(encoded), pa.py_buffer(offsets.tobytes()), data)
    return large.cast(pa.string())


def null_string() -> pa.Scalar:
    """A null of type string."""
    return pa.nulls(1, pa.string())[0]


def numeric_values(array: pa.Array | pa.ChunkedArray, null: float | int) -> np.ndarray:
    """An int32, int64 or float64 array's values as numpy (its own dtype), nulls as `null`.
    Read-only when it is one chunk without nulls (a view of Arrow's buffer)."""
    dtype = np.dtype(NUMPY_TYPES[array.type])
    parts = []
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        n = len(chunk)
        values = np.frombuffer(chunk.buffers()[1], dtype, n, chunk.offset * dtype.itemsize)
        if chunk.null_count:
            bits = np.frombuffer(chunk.buffers()[0], np.uint8)
            valid = np.unpackbits(bits, bitorder="little")[chunk.offset : chunk.offset + n]
            values = np.where(valid.astype(bool), values, np.array(null, dtype=dtype))
        parts.append(values)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
