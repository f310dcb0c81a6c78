"""Hostile, malformed and awkward submission files for the reading benchmark (`bench_reading.py`).

    python bench/reading_corpus.py OUT_DIR SUBMISSION.csv IDS.txt

Writes one file per case into OUT_DIR and `cases.json` (name, file, phase, what it tests,
expected outcome code or "ok"). Built from a real full-size submission (SUBMISSION.csv, e.g. the
synthetic final phase's 125 MB `strong.csv`) and the phase's id list. Two phases are used:
`final` (all ids of IDS.txt, embedding_dim 1,024: the 2025 final phase) and `small` (its first
200 ids), whose derived size limit is tiny, so that size limits are exercised cheaply.
Every case is generated, nothing is downloaded; big cases stream through gzip/zip writers.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

SMALL = 200
DIM = 1024


def header(dim: int = DIM) -> str:
    return "id," + ",".join(str(c) for c in range(dim))


def row(i: str, dim: int = DIM, value: str = "0.125") -> str:
    return i + "," + ",".join([value] * dim)


def rows_text(ids: list[str], dim: int = DIM, cell: Callable[[int, int], str] | None = None,
              end: str = "\n") -> str:  # fmt: skip
    lines = [header(dim)]
    for r, i in enumerate(ids):
        if cell is None:
            lines.append(row(i, dim, f"{(r % 7) - 3}.{r % 10}5"))
        else:
            lines.append(i + "," + ",".join(cell(r, c) for c in range(dim)))
    return end.join(lines) + end


def zipped(payload: bytes | str, name: str = "emb.csv", extra: dict | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for other, text in (extra or {}).items():
            zf.writestr(other, text)
        zf.writestr(name, payload)
    return buf.getvalue()


def patch_zip(data: bytes, *, flags: int | None = None, method: int | None = None) -> bytes:
    raw = bytearray(data)
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    if flags is not None:
        struct.pack_into("<H", raw, local + 6, flags)
        struct.pack_into("<H", raw, central + 8, flags)
    if method is not None:
        struct.pack_into("<H", raw, local + 8, method)
        struct.pack_into("<H", raw, central + 10, method)
    return bytes(raw)


def gzip_stream(path: Path, head: bytes, body: bytes, total: int, tail: bytes = b"") -> None:
    """A gzip file of `head`, then `body` repeated up to `total` bytes, then `tail`."""
    with gzip.open(path, "wb", compresslevel=6) as gz:
        gz.write(head)
        written = len(head)
        while written < total:
            gz.write(body)
            written += len(body)
        gz.write(tail)


def build(out: Path, submission: Path, ids_file: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    ids = [line for line in ids_file.read_text().splitlines() if line]
    small = ids[:SMALL]
    good = rows_text(small)
    cases: list[dict] = []

    def case(name: str, phase: str, what: str, expect: str, data: bytes | str | None = None,
             writer: Callable[[Path], None] | None = None, suffix: str = "") -> None:  # fmt: skip
        path = out / f"{len(cases) + 1:02d}-{name}{suffix}"
        if not path.exists():
            if writer is not None:
                writer(path)
            else:
                path.write_bytes(data.encode() if isinstance(data, str) else data)
        cases.append({"name": name, "file": path.name, "phase": phase, "what": what,
                      "expect": expect})  # fmt: skip

    lines = good.splitlines()

    def replace_row(k: int, new: str) -> str:
        copy = list(lines)
        copy[k] = new
        return "\n".join(copy) + "\n"

    def cell_at(r0: int, c0: int, text: str):
        return rows_text(small, cell=lambda r, c: text if (r, c) == (r0, c0) else "0.5")

    # ---- existing cases (tests/unit/test_submission_validation.py), at the phase's size
    case("empty", "small", "empty file", "empty_file", b"")
    case("whitespace-only", "small", "blank lines only", "empty_file", "\n\n  \n")
    case("header-only", "small", "header, no rows", "no_rows", header() + "\n")
    case("no-id-column", "small", "first column named 'sample'", "no_id_column",
         good.replace("id,", "sample,", 1))
    case("semicolons", "small", "';'-separated", "bad_separator",
         good.replace(",", ";"))
    case("latin1-byte", "small", "a Latin-1 byte in an id", "not_utf8",
         good.encode().replace(small[5].encode(), small[5][:-1].encode() + b"\xe9"))
    case("text-cell", "small", "'abc' in a number column", "non_numeric", cell_at(2, 3, "abc"))
    case("inf-cell", "small", "an infinite value", "infinite_values", cell_at(4, 0, "inf"))
    case("float32-overflow", "small", "1e39 does not fit float32", "values_too_large",
         cell_at(0, 2, "1e39"))
    case("duplicate-ids", "small", "an id twice", "duplicate_ids",
         good + row(small[3]) + "\n")
    case("duplicate-after-zarr", "small", "id and id.zarr.zip", "duplicate_ids",
         good + row(small[0] + ".zarr.zip") + "\n")
    case("too-many-columns", "small", "1,025 embedding columns", "too_many_columns",
         rows_text(small, dim=DIM + 1))
    case("missing-ids", "small", "half the ids", "missing_ids", rows_text(small[:100]))
    case("no-matching-ids", "small", "ids from another data set", "no_matching_ids",
         rows_text([f"other-{k}" for k in range(50)]))
    case("ragged-row", "small", "a row with an extra value", "ragged_rows",
         replace_row(5, lines[5] + ",9"))
    case("duplicate-column", "small", "column '1' twice", "duplicate_columns",
         good.replace("id,0,1,2,", "id,0,1,1,", 1))
    case("same-dimension", "small", "columns '1' and '01'", "duplicate_columns",
         good.replace("id,0,1,2,", "id,0,1,01,", 1))
    case("only-id", "small", "just an id column", "no_embedding_columns",
         "id\n" + "\n".join(small) + "\n")
    case("empty-id", "small", "a row without id", "empty_id",
         replace_row(6, lines[6][lines[6].index(","):]))
    case("zip-two-csvs", "small", "zip holding two CSVs", "bad_archive",
         zipped(good, "a.csv", {"b.csv": good}), suffix=".zip")
    case("damaged-gzip", "small", "gzip cut after 40 bytes", "bad_archive",
         gzip.compress(good.encode())[:40], suffix=".gz")
    case("zarr-suffixes", "small", "ids ending .zarr.zip / .zarr (flag)", "ok",
         rows_text([i + (".zarr.zip" if k % 2 else ".zarr") for k, i in enumerate(small)]))
    case("nan-cells", "small", "empty / NaN / nan cells (flag)", "ok",
         rows_text(small, cell=lambda r, c: {0: "", 1: "NaN", 2: "nan"}.get(c, "1.5")))
    case("fewer-columns", "small", "512 columns, zero-padded (flag)", "ok",
         rows_text(small, dim=512))
    case("extra-ids", "small", "unlabelled ids beside the needed ones (flag)", "ok",
         good + "".join(row(f"unlabelled-{k}") + "\n" for k in range(20)))
    case("extra-text-column", "small", "a 'note' column (flag)", "ok",
         good.replace("\n", ",n\n").replace(header() + ",n", header() + ",note", 1))
    case("columns-out-of-order", "small", "columns 1023..0 in reverse", "ok",
         "id," + ",".join(str(c) for c in reversed(range(DIM))) + "\n"
         + "\n".join(good.splitlines()[1:]) + "\n")
    case("bom", "small", "UTF-8 byte-order mark", "ok", b"\xef\xbb\xbf" + good.encode())
    case("gzip", "small", "the same, gzip", "ok", gzip.compress(good.encode()), suffix=".gz")
    case("zip-macosx", "small", "zip with __MACOSX/ and ._ entries", "ok",
         zipped(good, "emb/emb.csv", {"__MACOSX/emb/._emb.csv": "\x00\x05", "emb/._x.csv": "x"}),
         suffix=".zip")
    # ---- new: line endings and bytes
    case("cr-only", "small", "classic Mac line ends (CR)", "ok", good.replace("\n", "\r"))
    case("crlf", "small", "Windows line ends (CR LF)", "ok", good.replace("\n", "\r\n"))
    case("lone-cr", "small", "a CR inside a line", "line_endings",
         replace_row(7, lines[7].replace(",", ",\r", 1)))
    case("nul-in-row", "small", "a NUL byte in a row", "nul_bytes",
         replace_row(9, lines[9][:30] + "\x00" + lines[9][30:]))
    case("nul-at-line-ends", "small", "NUL before every line end", "nul_bytes",
         good.replace("\n", "\x00\n"))
    case("utf16", "small", "UTF-16 text", "not_utf8", good.encode("utf-16"))
    case("7z", "small", "a 7-Zip archive", "unsupported_format", b"7z\xbc\xaf\x27\x1c" + b"\0" * 64)
    case("parquet", "small", "a Parquet file", "unsupported_format", b"PAR1" + b"\0" * 64)
    case("html-page", "small", "an HTML error page saved as .csv", "no_id_column",
         "<!DOCTYPE html>\n<html><body>Not found</body></html>\n")
    case("excel-sep-line", "small", "Excel's 'sep=,' first line", "no_id_column",
         "sep=,\n" + good)
    # ---- new: header
    case("superscript-column", "small", "a column named '²'", "bad_header",
         good.replace(",3,", ",²,", 1))
    case("arabic-digit-column", "small", "a column named '١'", "bad_header",
         good.replace(",3,", ",١,", 1))
    case("header-100k-columns-gz", "final", "100,000-column header, gzip (issue: 3 min)",
         "too_many_columns",
         writer=lambda p: p.write_bytes(gzip.compress(
             ("id," + ",".join(map(str, range(100_000))) + "\n" + "x,0\n" * 1000).encode())),
         suffix=".gz")
    case("header-50k-same-name", "final", "'0' 50,000 times (quadratic count before)",
         "too_many_columns", "id," + ",".join(["0"] * 50_000) + "\nx\n")
    case("header-field-200k-chars", "small", "a column name of 200,000 characters",
         "bad_header", "id,0," + "x" * 200_000 + "\n" + small[0] + ",1,2\n")
    case("header-2mb-no-newline", "small", "a 2 MB first line", "line_too_long",
         "id," + "1," * 1_000_000)
    case("header-unclosed-quote", "small", "header with an unclosed quote", "unclosed_quote",
         good.replace("id,0,", 'id,"0,', 1))
    case("r-quoted", "small", "header and ids quoted (R's write.csv)", "ok",
         '"id",' + ",".join(f'"{c}"' for c in range(DIM)) + "\n"
         + "".join(f'"{line.split(",", 1)[0]}",{line.split(",", 1)[1]}\n' for line in lines[1:]))
    case("blank-lines", "small", "blank lines between rows and at the end", "ok",
         good.replace("\n" + small[50], "\n\n\n" + small[50]) + "\n\n")
    case("trailing-commas", "small", "every line ends with a comma", "ok",
         good.replace("\n", ",\n"))
    # ---- new: rows and cells
    case("trailing-comma-rows", "small", "rows (not header) end with a comma", "ragged_rows",
         "\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n")
    case("decimal-comma", "small", "0,5 unquoted (decimal comma)", "ragged_rows",
         rows_text(small, cell=lambda r, c: "0,5"))
    case("decimal-comma-quoted", "small", '"0,5" quoted', "non_numeric",
         cell_at(3, 1, '"0,5"'))
    case("thousands-separator", "small", '"1,234.5"', "non_numeric", cell_at(3, 1, '"1,234.5"'))
    case("underscore-digits", "small", "1_234.5", "non_numeric", cell_at(3, 1, "1_234.5"))
    case("arabic-digits-cell", "small", "١٫٥ (Arabic-Indic digits)", "non_numeric",
         cell_at(3, 1, "١٫٥"))
    case("hex-float", "small", "0x1p3", "non_numeric", cell_at(3, 1, "0x1p3"))
    case("unclosed-quote-row", "small", "an id with an opening quote only", "unclosed_quote",
         replace_row(4, '"' + lines[4]))
    case("spaces-around-numbers", "small", "' 0.5 ' padded cells (pandas reads them)", "ok",
         rows_text(small, cell=lambda r, c: " 0.5 "))
    case("id-300-chars", "small", "an id of 300 characters", "id_too_long",
         good + row("c" * 300) + "\n")
    case("id-200mb-gz", "final", "one 200 MB id, gzip (issue: 3.7 GB)", "line_too_long",
         writer=lambda p: gzip_stream(p, (header() + "\n").encode(), b"x" * 1_048_576,
                                      200 * 1_048_576, b",0\n"), suffix=".gz")  # fmt: skip
    case("duplicate-ids-many", "final", "every row the same id, 300 MB gzip", "duplicate_ids",
         writer=lambda p: gzip_stream(p, (header() + "\n").encode(),
                                      (row(ids[0]) + "\n").encode() * 64, 300 * 1_048_576),
         suffix=".gz")  # fmt: skip
    # ---- new: archives and sizes
    case("zip-password", "small", "password-protected zip", "bad_archive",
         patch_zip(zipped(good), flags=0x1), suffix=".zip")
    case("zip-deflate64", "small", "Deflate64 zip (Windows Explorer, large files)",
         "bad_archive", patch_zip(zipped(good), method=9), suffix=".zip")
    case("zip-aes", "small", "AES-encrypted zip (7-Zip)", "bad_archive",
         patch_zip(zipped(good), flags=0x1, method=99), suffix=".zip")
    case("zip-ppmd", "small", "PPMd zip", "bad_archive", patch_zip(zipped(good), method=98),
         suffix=".zip")
    case("zip-truncated", "small", "zip cut short", "bad_archive", zipped(good)[:200],
         suffix=".zip")
    case("xlsx", "small", "an Excel workbook (.xlsx is a zip)", "bad_archive",
         zipped("<xml/>", "xl/workbook.xml", {"[Content_Types].xml": "<xml/>"}), suffix=".zip")
    case("gzip-500mb-bomb", "final", "gzip inflating to 500 MB (issue: 6.4 GB)", "too_large",
         writer=lambda p: gzip_stream(p, (header() + "\n").encode(),
                                      (row("bomb") + "\n").encode() * 64, 500 * 1_000_000),
         suffix=".gz")  # fmt: skip
    case("gzip-bomb-lying-trailer", "final", "500 MB gzip whose trailer says 100 bytes",
         "too_large", writer=_lying_bomb, suffix=".gz")
    case("small-phase-gzip-bomb", "small", "a 50 MB gzip for a 200-id phase", "too_large",
         writer=lambda p: gzip_stream(p, (header() + "\n").encode(),
                                      (row("bomb") + "\n").encode() * 64, 50 * 1_000_000),
         suffix=".gz")  # fmt: skip
    case("zip-bomb", "final", "zip member inflating to 1 GB", "too_large",
         writer=lambda p: _zip_bomb(p), suffix=".zip")
    # ---- full size
    case("full-125mb-csv", "final", "the 125 MB final-phase submission", "ok",
         writer=lambda p: p.symlink_to(submission.resolve()))
    case("full-125mb-gzip", "final", "the same, gzip", "ok",
         writer=lambda p: p.write_bytes(gzip.compress(submission.read_bytes(), 6)),
         suffix=".gz")  # fmt: skip
    case("full-125mb-zip", "final", "the same, zip", "ok",
         writer=lambda p: p.write_bytes(zipped(submission.read_bytes())), suffix=".zip")
    case("full-crlf-padded", "final", "full size, CR LF and ' x ' padded cells", "ok",
         writer=lambda p: p.write_bytes(
             submission.read_bytes().replace(b",", b", ").replace(b"\n", b"\r\n")))
    case("full-one-bad-cell-at-end", "final", "full size, 'abc' in the last row's last cell",
         "non_numeric", writer=lambda p: p.write_bytes(_last_cell(submission.read_bytes())))
    case("full-extra-ids", "final", "full size plus 13,260 unlabelled rows", "ok",
         writer=lambda p: _with_extra_rows(submission, p))
    case("full-precision-285mb", "final", "every cell 17 significant digits (285 MB)", "ok",
         writer=lambda p: _long_numbers(ids, "-0.12345678901234567", p))
    case("over-phase-limit-461mb", "final", "33-character cells: 461 MB, under max_file_mb",
         "too_large", writer=lambda p: _long_numbers(ids, "-0.12345678901234567890123456789", p))
    return cases


def _lying_bomb(path: Path) -> None:
    gzip_stream(path, (header() + "\n").encode(), (row("bomb") + "\n").encode() * 64,
                500 * 1_000_000)  # fmt: skip
    with path.open("r+b") as fh:
        fh.seek(-4, 2)
        fh.write((100).to_bytes(4, "little"))


def _last_cell(data: bytes) -> bytes:
    return data[: data.rstrip(b"\n").rindex(b",") + 1] + b"abc\n"


def _zip_bomb(path: Path) -> None:
    block = (row("bomb") + "\n").encode() * 64
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("emb.csv", "w",
                                                                       force_zip64=True) as f:
        f.write((header() + "\n").encode())
        for _ in range(1_000_000_000 // len(block)):
            f.write(block)


def _with_extra_rows(submission: Path, path: Path) -> None:
    data = submission.read_bytes()
    body = data[data.index(b"\n") + 1 :]
    path.write_bytes(data + (b"x" + body.replace(b"\n", b"\nx"))[:-1])


def _long_numbers(ids: list[str], cell: str, path: Path) -> None:
    """Every needed id, every cell the same `cell` text (fixed width, for size and speed)."""
    with path.open("w") as fh:
        fh.write(header() + "\n")
        tail = ("," + cell) * DIM + "\n"
        for i in ids:
            fh.write(i + tail)


if __name__ == "__main__":
    cases = build(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    (Path(sys.argv[1]) / "cases.json").write_text(json.dumps(cases, indent=1))
    print(f"{len(cases)} cases in {sys.argv[1]}")
