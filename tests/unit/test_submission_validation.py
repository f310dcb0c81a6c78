"""Malformed and unusual submissions: every problem gets its participant-facing message."""

from __future__ import annotations

import gzip
import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scoring.submission import (
    SubmissionError,
    load_submission,
    parse_embedding_csv,
    prepare_embeddings,
)

IDS = [f"cube-{i:03d}" for i in range(6)]


def csv_text(ids=IDS, dim=4, header=None, cell=lambda r, c: f"{(r * 7 + c) % 5 - 2}.5") -> str:
    head = header if header is not None else "id," + ",".join(str(c) for c in range(dim))
    rows = [",".join([i] + [cell(r, c) for c in range(dim)]) for r, i in enumerate(ids)]
    return "\n".join([head, *rows]) + "\n"


def rejected(data: bytes | str, expected=IDS, dim=4, strict_ids=True) -> SubmissionError:
    """Refused the way the worker reads (a file, the phase's ids known) and the same way
    from bytes without the phase's ids (parse, then prepare): the message must not differ."""
    raw = data.encode() if isinstance(data, str) else data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(raw)
        with pytest.raises(SubmissionError) as info:
            load_submission(path, expected, embedding_dim=dim, strict=strict_ids)
    with pytest.raises(SubmissionError) as again:
        table = parse_embedding_csv(raw)
        prepare_embeddings(table, expected, embedding_dim=dim, strict=strict_ids)
    assert again.value.code == info.value.code
    return info.value


def accepted(data: str, expected=IDS, dim=4, strict_ids=True):
    table = parse_embedding_csv(data.encode())
    return prepare_embeddings(table, expected, embedding_dim=dim, strict=strict_ids)


def read_file(path: Path, **kw):
    return load_submission(path, IDS, embedding_dim=4, strict=True, **kw)


def codes(table) -> set[str]:
    return {f.code for f in table.findings}


# ---------------------------------------------------------------------------- errors (fatal)

def test_empty_file():
    err = rejected("")
    assert err.code == "empty_file"
    assert "the file is empty" in err.message


def test_whitespace_only_file():
    assert rejected("\n\n  \n").code == "empty_file"


def test_header_only():
    err = rejected("id,0,1,2,3\n")
    assert err.code == "no_rows"
    assert "no rows" in err.message


def test_no_id_column():
    err = rejected(csv_text(header="sample,0,1,2,3"))
    assert err.code == "no_id_column"
    assert "there is no 'id' column (the header starts 'sample,0,1,2,…')" in err.message


def test_semicolon_separator():
    err = rejected("id;0;1\ncube-000;1;2\n")
    assert err.code == "bad_separator"
    wide = "id;" + ";".join(map(str, range(1024))) + "\n"  # one field longer than a name may be
    assert rejected(wide).code == "bad_separator"
    assert "';'" in err.message and "comma-separated" in err.message


def test_non_utf8_bytes():
    data = csv_text().encode().replace(b"cube-002", b"cub\xe9-002")
    err = rejected(data)
    assert err.code == "not_utf8"
    assert "byte 0xe9 on line 4" in err.message and "UTF-8" in err.message


def test_text_in_number_column_names_row_and_column():
    def cell(r, c):
        return "abc" if (r, c) == (2, 3) else "0.5"

    err = rejected(csv_text(cell=cell))
    assert err.code == "non_numeric"
    assert "line 4, column '3': 'abc' is not a number; write every embedding value as a " \
           "plain decimal number" in err.message


def test_text_cells_counted():
    def cell(r, c):
        return "x" if c == 1 and r < 3 else "1.0"

    err = rejected(csv_text(cell=cell))
    assert "line 2, column '1': 'x' is not a number" in err.message
    assert "(3 such cells in lines 2-7)" in err.message


def test_infinite_value():
    def cell(r, c):
        return "inf" if (r, c) == (4, 0) else "0.25"

    err = rejected(csv_text(cell=cell))
    assert err.code == "infinite_values"
    assert "line 6, column '0' is inf" in err.message and "finite" in err.message


def test_value_too_large_for_float32():
    def cell(r, c):
        return "1e39" if (r, c) == (0, 2) else "0.25"

    err = rejected(csv_text(cell=cell))
    assert err.code == "values_too_large"
    assert "line 2, column '2' is 1e+39, too large for a 32-bit float" in err.message


def test_duplicate_ids():
    ids = IDS[:4] + ["cube-001", "cube-002", "cube-002"]
    err = rejected(csv_text(ids=ids))
    assert err.code == "duplicate_ids"
    assert "2 duplicate id(s), e.g. 'cube-001', 'cube-002'" in err.message


def test_duplicate_ids_after_zarr_suffix_stripping():
    ids = IDS + ["cube-000.zarr.zip"]
    err = rejected(csv_text(ids=ids))
    assert err.code == "duplicate_ids"
    assert "'cube-000'" in err.message


def test_too_many_columns():
    err = rejected(csv_text(dim=6), dim=4)
    assert err.code == "too_many_columns"
    assert "6 embedding columns, the limit is 4" in err.message


@pytest.mark.parametrize(
    ("header", "rows", "hint"),
    [
        (",id,a,b,c,d", lambda r, i: f"{r},{i},1,2,3,4", "row index? pandas writes one unless"),
        ("id,a,b,c,d,", lambda r, i: f"{i},1,2,3,4,", "the header ends with a comma"),
        ("id,a,,b,c,d", lambda r, i: f"{i},1,2,3,4,5", "column 3 has no name"),
    ],
)
def test_a_column_too_many_without_a_name_is_explained(header, rows, hint):
    text = "\n".join([header, *(rows(r, i) for r, i in enumerate(IDS))]) + "\n"
    err = rejected(text)
    assert err.code == "too_many_columns"
    assert "5 embedding columns, the limit is 4" in err.message and hint in err.message


def test_too_many_columns_formats_thousands():
    table = parse_embedding_csv(csv_text(dim=1030).encode())
    with pytest.raises(SubmissionError, match="1,030 embedding columns, the limit is 1,024"):
        prepare_embeddings(table, IDS, embedding_dim=1024, strict=True)


def test_missing_ids_strict():
    err = rejected(csv_text(ids=IDS[:2]))
    assert err.code == "missing_ids"
    assert "4 id(s) required by the hidden tasks are missing, e.g. 'cube-002', 'cube-003', " \
           "'cube-004', …" in err.message


def test_no_matching_ids_at_all():
    err = rejected(csv_text(ids=["a", "b"]), strict_ids=False)
    assert err.code == "no_matching_ids"
    assert "none of the 2 ids matches a labelled sample" in err.message


def test_ragged_row():
    text = csv_text().replace("cube-003,", "cube-003,9,", 1)
    err = rejected(text)
    assert err.code == "ragged_rows"
    assert "has 6 comma-separated values but the header has 5 columns" in err.message


def test_duplicate_column_names():
    err = rejected(csv_text(header="id,0,1,1,3"))
    assert err.code == "duplicate_columns"
    assert "'1'" in err.message


def test_columns_naming_the_same_dimension():
    err = rejected(csv_text(header="id,0,1,01,3"))
    assert err.code == "duplicate_columns"
    assert "without leading zeros" in err.message


def test_only_id_column():
    err = rejected("id\ncube-000\n")
    assert err.code == "no_embedding_columns"


def test_empty_id():
    text = csv_text().replace("cube-004", "")
    err = rejected(text)
    assert err.code == "empty_id"
    assert "line 6 has an empty id;" in err.message


def test_zip_with_two_csvs(tmp_path: Path):
    path = tmp_path / "sub.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", csv_text())
        zf.writestr("b.csv", csv_text())
    with pytest.raises(SubmissionError) as info:
        read_file(path)
    assert info.value.code == "bad_archive"
    assert "exactly one .csv file, it holds 2" in info.value.message


def test_damaged_gzip(tmp_path: Path):
    path = tmp_path / "sub.csv.gz"
    path.write_bytes(gzip.compress(csv_text().encode())[:40])
    with pytest.raises(SubmissionError) as info:
        read_file(path)
    assert info.value.code == "bad_archive"
    assert "cannot be decompressed" in info.value.message


def test_decompression_bomb_capped(tmp_path: Path):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"0" * 200_000))
    with pytest.raises(SubmissionError) as info:
        read_file(path, max_uncompressed=100_000)
    assert info.value.code == "too_large"
    assert "is 200,000 bytes once uncompressed; the limit is 100,000 bytes" in info.value.message


# ------------------------------------------------------------------ findings (non-fatal)

def test_zarr_suffixes_stripped_with_flag():
    ids = [i + (".zarr.zip" if n % 2 else ".zarr") for n, i in enumerate(IDS)]
    table = accepted(csv_text(ids=ids))
    assert sorted(table.ids.tolist()) == IDS
    assert "zarr_zip_not_removed_from_id_column" in codes(table)


def test_nan_cells_replaced_by_zero():
    def cell(r, c):
        return {(0, 0): "", (1, 1): "NaN", (2, 2): "nan"}.get((r, c), "1.0")

    table = parse_embedding_csv(csv_text(cell=cell).encode())
    assert table.matrix[0, 0] == 0.0 and table.matrix[1, 1] == 0.0 and table.matrix[2, 2] == 0.0
    assert [f.message for f in table.findings] == [
        "3 empty or NaN cell(s) were replaced by 0.0"
    ]


def test_text_cells_refused_in_standalone_mode_too():
    # non-strict mode only forgives missing ids: "0,5" scored as 0.0 would be a silent zero
    def cell(r, c):
        return '"0,5"' if (r, c) == (1, 2) else "2.0"

    err = rejected(csv_text(cell=cell), strict_ids=False)
    assert err.code == "non_numeric"
    assert "line 3, column '2': '0,5' is not a number; write decimals with a point" in err.message


def test_fewer_columns_zero_padded():
    table = accepted(csv_text(dim=3), dim=5)
    assert table.matrix.shape == (6, 5)
    assert "embedding_zero_padded" in codes(table)


def test_extra_ids_ignored():
    table = accepted(csv_text(ids=IDS + ["unlabelled-1", "unlabelled-2"]))
    assert sorted(table.ids.tolist()) == IDS
    finding = next(f for f in table.findings if f.code == "extra_ids_ignored")
    assert finding.message == "2 id(s) not used by any task were ignored"


def test_missing_ids_dropped_in_standalone_mode():
    table = accepted(csv_text(ids=IDS[:4]), strict_ids=False)
    assert table.ids.tolist() == IDS[:4]
    assert "missing_ids_dropped" in codes(table)


def test_non_digit_columns_ignored_when_digit_columns_exist():
    text = csv_text(header="id,0,1,2,3").replace("\n", ",x\n").replace("3,x\n", "3,note\n", 1)
    table = accepted(text)
    assert table.matrix.shape == (6, 4)
    assert "extra_columns_ignored" in codes(table)


def test_columns_ordered_by_integer_value():
    text = "id,10,2,1\n" + "\n".join(f"{i},10,2,1" for i in IDS) + "\n"
    table = parse_embedding_csv(text.encode())
    raw = table.matrix[0].tolist()
    assert raw == [1.0, 2.0, 10.0]


def test_named_columns_used_when_no_digit_columns():
    text = "id,a,b\n" + "\n".join(f"{i},1,2" for i in IDS) + "\n"
    table = parse_embedding_csv(text.encode())
    assert table.found_dim == 2


def test_utf8_bom_accepted():
    table = parse_embedding_csv(b"\xef\xbb\xbf" + csv_text().encode())
    assert table.ids[0] == "cube-000"


def test_global_standardisation_over_whole_matrix():
    table = accepted(csv_text())
    assert abs(float(table.matrix.mean())) < 1e-6
    assert abs(float(table.matrix.std()) - 1.0) < 1e-5
    # not per column: columns keep different means
    assert np.ptp(table.matrix.mean(axis=0)) > 0.1


def test_constant_matrix_std_treated_as_one():
    table = accepted(csv_text(cell=lambda r, c: "3"))
    assert np.all(table.matrix == 0.0)


@pytest.mark.parametrize("wrap", ["plain", "gzip", "zip"])
def test_same_result_from_every_container(tmp_path: Path, wrap: str):
    text = csv_text()
    path = tmp_path / "s"
    if wrap == "plain":
        path.write_text(text)
    elif wrap == "gzip":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("__MACOSX/._emb.csv", "junk")
            zf.writestr("emb.csv", text)
        path.write_bytes(buf.getvalue())
    table = load_submission(path, IDS, embedding_dim=4, strict=True)
    reference = accepted(text)
    np.testing.assert_array_equal(table.matrix, reference.matrix)
    assert table.ids.tolist() == reference.ids.tolist()
