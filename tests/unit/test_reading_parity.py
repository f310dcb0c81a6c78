"""The numbers we read are the reference's: pandas' decimal-to-float64, then float32.

The reference (NeuCo-Bench `load_submission`) reads with `pd.read_csv` and converts with
`to_numpy(dtype=np.float32)`: two roundings. Our reader parses to float64 in threads and rounds
to float32 the same way; these tests compare bit patterns, not values within a tolerance.
"""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from scoring.reading import ReadLimits, is_number_text, read_embedding_bytes, read_embedding_file

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "golden" / "submissions"


def reference_matrix(data: bytes) -> tuple[list[str], np.ndarray]:
    """The reference's path, as in NeuCo-Bench's benchmark/data/embeddings.py."""
    df = pd.read_csv(io.BytesIO(data))
    cols = sorted((c for c in df.columns if str(c).isdigit()), key=int)
    values = df[cols].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    return df["id"].astype(str).tolist(), values.to_numpy(dtype=np.float32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.skipif(not GOLDEN.exists(), reason=f"golden submissions not found at {GOLDEN}")
@pytest.mark.parametrize("team", ["strong", "weak", "nonlinear", "baseline_random"])
def test_golden_submissions_read_bit_identical_to_the_reference(team: str):
    path = GOLDEN / f"{team}.csv.gz"
    ids, expected = reference_matrix(gzip.decompress(path.read_bytes()))
    table = read_embedding_file(path, ReadLimits(), None, threads=2, chunk_bytes=256 * 1024)
    assert table.ids.tolist() == ids
    assert same_bits(table.matrix, expected)


def test_decimals_on_float32_rounding_ties_take_the_references_two_roundings():
    """Decimals a hair off a float32 midpoint: to float64 they round onto the midpoint, and
    float64 -> float32 then rounds to even; parsing straight to float32 would round them the
    other way. We must give what the reference gives."""
    rng = np.random.default_rng(7)
    lows = rng.uniform(-2, 2, 400).astype(np.float32)
    highs = np.nextafter(lows, np.float32(np.inf))
    mids = (lows.astype(np.float64) + highs.astype(np.float64)) / 2
    cells = []
    for m in mids:
        exact = f"{m:.30f}".rstrip("0")  # the midpoint, exactly
        cells.append(exact + "00000000001" if "." in exact else exact)  # a hair above it
    ids = [f"r{i}" for i in range(len(cells) // 4)]
    lines = [f"{i}," + ",".join(cells[4 * k : 4 * k + 4]) for k, i in enumerate(ids)]
    data = ("id,0,1,2,3\n" + "\n".join(lines) + "\n").encode()
    _, expected = reference_matrix(data)
    table = read_embedding_bytes(data, threads=2)
    assert same_bits(table.matrix, expected)
    direct = np.asarray([pc.cast(pa.array([c]), pa.float32())[0].as_py() for c in cells],
                        dtype=np.float32).reshape(-1, 4)  # fmt: skip
    assert not same_bits(direct, expected)  # the single-rounding path really differs here


def test_random_decimals_of_every_length_match_the_reference():
    rng = random.Random(3)
    cells = []
    for _ in range(20_000):
        digits = rng.randint(1, 20)
        mantissa = "".join(rng.choice("0123456789") for _ in range(digits))
        point = rng.randint(0, digits)
        text = (mantissa[:point] or "0") + "." + mantissa[point:]
        if rng.random() < 0.3:
            text += f"e{rng.randint(-45, 15)}"  # |value| < 1e35: float32 range
        cells.append(("-" if rng.random() < 0.5 else "") + text)
    lines = [f"r{k}," + ",".join(cells[8 * k : 8 * k + 8]) for k in range(len(cells) // 8)]
    data = ("id," + ",".join(map(str, range(8))) + "\n" + "\n".join(lines) + "\n").encode()
    _, expected = reference_matrix(data)
    assert same_bits(read_embedding_bytes(data, threads=2, chunk_bytes=16_384).matrix, expected)


def test_our_number_grammar_is_the_fast_parsers():
    """The slow path names bad cells with a regular expression; it must accept exactly what the
    fast parser converts, or a participant would be told the wrong cell."""
    rng = random.Random(5)
    alphabet = "0123456789+-.eE naiINfFxX_,'"
    samples = ["1", "-1.5e3", ".5", "5.", "+.5e-3", "nan", "-inf", "Infinity", "1e", "e1", "+",
               "-", ".", "1.2.3", "0x1", "1_0", "١", "1d5", "--1", "1e+", " 1", "inf1"]  # fmt: skip
    samples += ["".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(3000)]
    for text in samples:
        try:
            pc.cast(pa.array([text.strip(" ")]), pa.float64())
            arrow_ok = True
        except pa.ArrowInvalid:
            arrow_ok = False
        assert is_number_text(text) == arrow_ok, repr(text)


@pytest.mark.parametrize(
    "values", [[], [""], ["a", "", "é", "𝄞x", "NaN"], [str(i) for i in range(999)]]
)
def test_string_arrays_built_from_buffers_equal_pyarrows_own(values):
    import pyarrow as pa

    from scoring.reading.arrow_arrays import null_string, string_array

    built = string_array(values)
    assert built.type == pa.string() and built.null_count == 0
    assert built.equals(pa.array(values, pa.string()))
    assert null_string().type == pa.string() and not null_string().is_valid


def test_numeric_values_read_arrow_buffers_with_nulls_offsets_and_chunks():
    import pyarrow as pa

    from scoring.reading.arrow_arrays import numeric_values

    ints = pa.chunked_array([pa.array([1, None, 3], pa.int32()), pa.array([None, 5], pa.int32())])
    assert numeric_values(ints, -1).tolist() == [1, -1, 3, -1, 5]
    sliced = pa.array([0.5, None, 2.5, 3.5, None, 9.0], pa.float64()).slice(1, 4)
    got = numeric_values(sliced, np.nan)
    assert got.dtype == np.float64 and np.isnan(got[0]) and np.isnan(got[3])
    assert got[1:3].tolist() == [2.5, 3.5]
    assert numeric_values(pa.array([7, 8], pa.int64()), 0).tolist() == [7, 8]
    assert numeric_values(pa.chunked_array([], pa.int64()), 0).tolist() == []
