"""The reading boundary against hostile and awkward files: every one answered with a message
for the participant (line, column, how to fix), none with a parser's words or a traceback."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scoring.reading import ReadLimits, UnreadableFile, phase_limits, read_embedding_file
from scoring.submission import SubmissionError, load_submission, parse_embedding_csv

IDS = [f"cube-{i:03d}" for i in range(6)]
JARGON = ("arrow", "pyarrow", "straddl", "CSV parse error", "block", "Traceback", "Errno",
          "field", "inflat")


def csv_text(ids=IDS, dim=4, header=None, cell=lambda r, c: f"{(r * 7 + c) % 5 - 2}.5",
             end="\n") -> str:  # fmt: skip
    head = header if header is not None else "id," + ",".join(str(c) for c in range(dim))
    rows = [",".join([i] + [cell(r, c) for c in range(dim)]) for r, i in enumerate(ids)]
    return end.join([head, *rows]) + end


def load(tmp_path: Path, data: bytes | str, expected=IDS, dim=4, name="input", **kw):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return load_submission(path, expected, embedding_dim=dim, strict=True, **kw)


def refused(tmp_path: Path, data: bytes | str, **kw) -> SubmissionError:
    with pytest.raises(SubmissionError) as info:
        load(tmp_path, data, **kw)
    message = info.value.message
    assert not any(word.lower() in message.lower() for word in JARGON), message
    return info.value


def zipped(text: str, name: str = "emb.csv") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, text)
    return buf.getvalue()


def patch_zip(data: bytes, *, flags: int | None = None, method: int | None = None) -> bytes:
    """Rewrite the flag bits / compression method in the local and central headers, as
    encrypting or Deflate64 tools write them."""
    raw = bytearray(data)
    local = raw.find(b"PK\x03\x04")
    central = raw.find(b"PK\x01\x02")
    if flags is not None:
        struct.pack_into("<H", raw, local + 6, flags)
        struct.pack_into("<H", raw, central + 8, flags)
    if method is not None:
        struct.pack_into("<H", raw, local + 8, method)
        struct.pack_into("<H", raw, central + 10, method)
    return bytes(raw)


# ------------------------------------------------------------------ line endings and text


@pytest.mark.parametrize("end", ["\r\n", "\r"])
def test_crlf_and_cr_only_line_endings_read_like_lf(tmp_path: Path, end: str):
    table = load(tmp_path, csv_text(end=end))
    reference = load(tmp_path, csv_text(), name="lf")
    np.testing.assert_array_equal(table.matrix, reference.matrix)
    assert table.ids.tolist() == reference.ids.tolist()


def test_a_lone_carriage_return_inside_a_line_is_refused(tmp_path: Path):
    text = csv_text().replace("cube-002,", "cube-002,\r", 1)
    err = refused(tmp_path, text)
    assert err.code in ("line_endings", "ragged_rows")
    assert "line 4" in err.message


def test_nul_bytes_are_refused_with_their_line(tmp_path: Path):
    text = csv_text().replace("cube-003,", "cube-003,\x00", 1)
    err = refused(tmp_path, text)
    assert err.code == "nul_bytes"
    assert "line 5 contains a NUL byte" in err.message


def test_nul_byte_at_a_line_end_no_longer_drops_a_column(tmp_path: Path):
    text = csv_text().replace("\n", "\x00\n")
    err = refused(tmp_path, text)
    assert err.code == "nul_bytes"


def test_utf16_file_refused_with_how_to_save_it(tmp_path: Path):
    err = refused(tmp_path, csv_text().encode("utf-16"))
    assert err.code == "not_utf8"
    assert "UTF-16" in err.message and "UTF-8" in err.message


@pytest.mark.parametrize(
    ("magic", "name"), [(b"7z\xbc\xaf\x27\x1c", "7-Zip"), (b"PAR1", "Parquet")]
)
def test_other_formats_named(tmp_path: Path, magic: bytes, name: str):
    err = refused(tmp_path, magic + b"\x00" * 100)
    assert err.code == "unsupported_format"
    assert name in err.message


def test_non_utf8_byte_in_a_later_block_gives_its_line(tmp_path: Path):
    ids = [f"cube-{i:03d}" for i in range(400)]
    data = csv_text(ids=ids).encode().replace(b"cube-350", b"cub\xe9-350")
    with pytest.raises(SubmissionError) as info:
        read_embedding_file(_write(tmp_path, data), ReadLimits(), None, chunk_bytes=2048)
    err = info.value
    assert err.code == "not_utf8"
    assert "byte 0xe9 on line 352" in err.message


def _write(tmp_path: Path, data: bytes, name: str = "blocks") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ header


@pytest.mark.parametrize("name", ["²", "١"])
def test_non_ascii_digit_column_names_refused(tmp_path: Path, name: str):
    err = refused(tmp_path, csv_text(header=f"id,0,1,2,{name}"))
    assert err.code == "bad_header"
    assert "digits 0-9" in err.message


def test_column_limit_applied_from_the_header_before_any_row(tmp_path: Path):
    header = "id," + ",".join(str(c) for c in range(100_000))
    err = refused(tmp_path, header + "\nthis row is not even parsed\n", dim=1024)
    assert err.code == "too_many_columns"
    assert "the header has 100,001 columns" in err.message
    assert "at most 1,024 embedding columns" in err.message


def test_header_longer_than_a_line_may_be_is_refused(tmp_path: Path):
    with pytest.raises(SubmissionError) as info:
        read_embedding_file(_write(tmp_path, b"id," + b"x" * 2_000_000 + b"\n"), ReadLimits())
    err = info.value
    assert err.code == "line_too_long"
    assert "the header (line 1) is longer than 1,048,576 bytes" in err.message


def test_header_with_an_unclosed_quote(tmp_path: Path):
    err = refused(tmp_path, csv_text(header='id,"0,1,2,3'))
    assert err.code == "unclosed_quote"


def test_quoted_header_and_ids_as_r_writes_them(tmp_path: Path):
    text = csv_text(header='"id","0","1","2","3"')
    for i in IDS:
        text = text.replace(f"{i},", f'"{i}",')
    table = load(tmp_path, text)
    reference = load(tmp_path, csv_text(), name="plain")
    np.testing.assert_array_equal(table.matrix, reference.matrix)


def test_blank_lines_before_the_header_and_between_rows(tmp_path: Path):
    text = "\n\n" + csv_text().replace("cube-003", "\n\ncube-003") + "\n\n"
    table = load(tmp_path, text)
    assert sorted(table.ids.tolist()) == IDS
    bad = text.replace("cube-004,", "cube-004,x", 1)
    err = refused(tmp_path, bad)
    assert err.code == "non_numeric"
    assert "line 10, column '0'" in err.message  # blank lines counted


def test_trailing_commas_in_header_and_rows_are_an_ignored_column(tmp_path: Path):
    text = csv_text().replace("\n", ",\n")
    table = load(tmp_path, text)
    assert table.matrix.shape == (6, 4)
    assert "extra_columns_ignored" in {f.code for f in table.findings}


# ------------------------------------------------------------------ rows and cells


def test_ragged_row_names_its_line_and_the_trailing_comma(tmp_path: Path):
    err = refused(tmp_path, csv_text().replace("cube-004,", "cube-004,,", 1).replace(
        "\ncube-004", "\ncube-004"))
    assert err.code == "ragged_rows"
    assert "line 6 has 6 comma-separated values but the header has 5 columns" in err.message


def test_trailing_comma_hint(tmp_path: Path):
    lines = csv_text().splitlines()
    lines[3] += ","
    err = refused(tmp_path, "\n".join(lines) + "\n")
    assert "line 4 has 6 comma-separated values" in err.message
    assert "ends with a comma" in err.message


def test_decimal_commas_unquoted_are_ragged_with_a_hint(tmp_path: Path):
    text = csv_text(cell=lambda r, c: "0,5")
    err = refused(tmp_path, text)
    assert err.code == "ragged_rows"
    assert "line 2 has 9 comma-separated values but the header has 5 columns" in err.message
    assert "decimal comma" in err.message


@pytest.mark.parametrize(("cell", "hint"), [
    ('"1,234.5"', "digit-group separators"),
    ("1_234.5", "digit-group separators"),
    ("١٫٥", "digits 0-9"),
    ("0x1p3", "plain decimal number"),
    ('"[0.1, 0.2, 0.3]"', "one column per dimension"),
    ('"(0.1 0.2)"', "one column per dimension"),
])  # fmt: skip
def test_bad_cells_with_line_column_and_hint(tmp_path: Path, cell: str, hint: str):
    text = csv_text(cell=lambda r, c: cell if (r, c) == (3, 1) else "0.5")
    err = refused(tmp_path, text)
    assert err.code == "non_numeric"
    assert "line 5, column '1'" in err.message and hint in err.message


def test_unclosed_quote_in_a_row(tmp_path: Path):
    text = csv_text().replace("cube-002", '"cube-002', 1)
    err = refused(tmp_path, text)
    assert err.code == "unclosed_quote"
    assert "line 4 has a quote" in err.message


def test_numbers_padded_with_spaces_read_as_pandas_reads_them(tmp_path: Path):
    table = load(tmp_path, csv_text(cell=lambda r, c: f" {(r * 7 + c) % 5 - 2}.5 "))
    reference = load(tmp_path, csv_text(), name="plain")
    np.testing.assert_array_equal(table.matrix, reference.matrix)


def test_header_only_file(tmp_path: Path):
    assert refused(tmp_path, "id,0,1,2,3\n").code == "no_rows"


def test_ids_over_256_characters_refused(tmp_path: Path):
    long_id = "c" * 300
    err = refused(tmp_path, csv_text(ids=[*IDS, long_id]))
    assert err.code == "id_too_long"
    assert "line 8: the id is 300 characters long, ids are at most 256" in err.message


def test_a_row_longer_than_a_line_may_be_is_refused_before_it_is_held(tmp_path: Path):
    data = csv_text().encode() + b"x" * 3_000_000 + b",1,2,3,4\n"
    with pytest.raises(SubmissionError) as info:
        read_embedding_file(_write(tmp_path, data), ReadLimits(), chunk_bytes=65_536)
    err = info.value
    assert err.code == "line_too_long"
    assert "line 8 is longer than 1,048,576 bytes" in err.message


def test_duplicate_ids_across_blocks_name_both_lines(tmp_path: Path):
    ids = [f"cube-{i:03d}" for i in range(300)]
    data = csv_text(ids=[*ids, "cube-007"]).encode()
    with pytest.raises(SubmissionError) as info:
        read_embedding_file(_write(tmp_path, data), ReadLimits(), ids, chunk_bytes=1024)
    assert info.value.code == "duplicate_ids"
    assert "'cube-007' is on line 9 and again on line 302" in info.value.message


def test_unknown_ids_are_counted_and_ignored_not_checked(tmp_path: Path):
    table = load(tmp_path, csv_text(ids=[*IDS, "other", "other"]))
    assert sorted(table.ids.tolist()) == IDS
    assert "2 id(s) not used by any task were ignored" in [f.message for f in table.findings]


# ------------------------------------------------------------------ containers and sizes


def test_password_protected_zip(tmp_path: Path):
    err = refused(tmp_path, patch_zip(zipped(csv_text()), flags=0x1))
    assert err.code == "bad_archive"
    assert "password-protected" in err.message and "zip it again" in err.message


@pytest.mark.parametrize(("method", "name"), [(9, "Deflate64"), (98, "PPMd")])
def test_unsupported_zip_methods(tmp_path: Path, method: int, name: str):
    err = refused(tmp_path, patch_zip(zipped(csv_text()), method=method))
    assert err.code == "bad_archive"
    assert f"uses {name} compression" in err.message and "standard method" in err.message


def test_aes_zip(tmp_path: Path):
    err = refused(tmp_path, patch_zip(zipped(csv_text()), flags=0x1, method=99))
    assert "password-protected" in err.message


def test_macos_metadata_in_a_zip_is_ignored(tmp_path: Path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__MACOSX/emb/._emb.csv", "\x00\x05junk")
        zf.writestr("emb/._emb.csv", "\x00\x05junk")
        zf.writestr("emb/emb.csv", csv_text())
    assert load(tmp_path, buf.getvalue()).matrix.shape == (6, 4)


def test_truncated_zip(tmp_path: Path):
    err = refused(tmp_path, zipped(csv_text())[:60])
    assert err.code == "bad_archive"


def test_size_limit_derived_from_the_phase_with_both_numbers(tmp_path: Path):
    limits = phase_limits(6, 4, ceiling=10**9)
    assert limits.max_uncompressed == 6 * (4 * 32 + 300) + 1024**2
    big = csv_text(ids=[f"x{i}" for i in range(60_000)])
    path = _write(tmp_path, gzip.compress(big.encode()), "big.csv.gz")
    with pytest.raises(SubmissionError) as info:
        load_submission(path, IDS, embedding_dim=4, strict=True)
    assert info.value.code == "too_large"
    assert f"the gzip file is {len(big.encode()):,} bytes once uncompressed; the limit is " \
           f"{limits.max_uncompressed:,} bytes (this phase needs 6 rows of 4 numbers)" \
           in info.value.message


def test_gzip_lying_about_its_size_is_still_capped(tmp_path: Path):
    big = csv_text(ids=[f"x{i}" for i in range(400_000)]).encode()  # > one 4 MiB read
    packed = bytearray(gzip.compress(big))
    packed[-4:] = (100).to_bytes(4, "little")  # claims 100 bytes
    with pytest.raises(SubmissionError) as info:
        load(tmp_path, bytes(packed))
    assert info.value.code == "too_large"
    message = info.value.message
    assert "the gzip file is more than 1,051,144 bytes once uncompressed (we stopped reading " \
        "it after " in message
    assert "; the limit is 1,051,144 bytes (this phase needs 6 rows of 4 numbers)" in message
    assert not any(word.lower() in message.lower() for word in JARGON), message


def test_unforeseen_failures_are_the_files_not_internal(tmp_path: Path):
    with pytest.raises(UnreadableFile) as info:
        load_submission(tmp_path, IDS, embedding_dim=4, strict=True)  # a folder, not a file
    assert info.value.code == "unreadable_file"
    assert info.value.message.startswith("we could not read your file: ")
    assert isinstance(info.value, SubmissionError)  # the worker's "participant" class


# ------------------------------------------------------------------ blocks and threads


def test_many_blocks_in_threads_equal_one_block(tmp_path: Path):
    rng = np.random.default_rng(0)
    ids = [f"cube-{i:04d}" for i in range(2000)]
    values = rng.standard_normal((2000, 16))
    pairs = zip(ids, values, strict=True)
    rows = (f"{i},{','.join(map(repr, map(float, row)))}" for i, row in pairs)
    text = "id," + ",".join(map(str, range(16))) + "\n" + "\n".join(rows) + "\n"
    path = _write(tmp_path, text.encode())
    one = read_embedding_file(path, ReadLimits(), None, threads=1, chunk_bytes=1 << 30)
    many = read_embedding_file(path, ReadLimits(), ids[::-1], threads=3, chunk_bytes=4096)
    assert one.ids.tolist() == many.ids.tolist() == ids
    np.testing.assert_array_equal(one.matrix, many.matrix)
    np.testing.assert_array_equal(one.matrix, values.astype(np.float32))


def test_parse_embedding_csv_keeps_every_row():
    table = parse_embedding_csv(csv_text(ids=[*IDS, "extra"]).encode())
    assert table.ids.tolist() == [*IDS, "extra"]
