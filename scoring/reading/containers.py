"""Open a submission file as a stream of CSV bytes: plain, gzip, or a zip holding one CSV.
Reads the named file only.

The format is recognised by the first bytes (EvalAI keeps only the extension of the
participant's file name). Every stream counts what it inflates to and refuses the file the
moment it passes `ReadLimits.max_uncompressed`; sizes a file declares (a plain file's size, a
zip member's size, a gzip trailer) are checked before any decompression. Archive problems
become `SubmissionError`s that say how to make a file we can read.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from scoring.reading.errors import SubmissionError, count_text, examples_text
from scoring.reading.limits import ReadLimits

GZIP_MAGIC = b"\x1f\x8b"
DEFLATE_MAX_RATIO = 1032  # the most Deflate can expand: 258 bytes from 2 bits
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# Formats that people send by mistake: what it is, and what to do instead.
OTHER_FORMATS = (
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard file"),
    (b"PAR1", "a Parquet file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook"),
)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Zip compression methods Python's zipfile can read; every other one gets a name if we know it.
READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
METHOD_NAMES = {
    1: "Shrink", 6: "Implode", 9: "Deflate64", 10: "PKWARE Implode", 18: "IBM TERSE",
    19: "IBM LZ77", 93: "Zstandard", 95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd",
    99: "AES encryption",
}  # fmt: skip
REZIP = "zip it again with the standard method (Deflate), e.g. `zip submission.zip emb.csv`"


def _too_large(
    limits: ReadLimits, size: int | None, what: str, consumed: int = 0
) -> SubmissionError:
    need = ""
    if limits.labelled_rows and limits.embedding_dim:
        need = (
            f" (this phase needs {count_text(limits.labelled_rows)} rows of "
            f"{count_text(limits.embedding_dim)} numbers)"
        )
    limit = count_text(limits.max_uncompressed)
    if size is not None:
        found = f"{what} is {count_text(size)} bytes once uncompressed; the limit is {limit} bytes"
    else:  # a size nobody declared: we stopped decompressing at the limit
        found = (
            f"{what} is more than {limit} bytes once uncompressed (we stopped reading it after "
            f"{count_text(consumed)} bytes); the limit is {limit} bytes"
        )
    return SubmissionError(
        "too_large",
        f"{found}{need}. Submit one row per id and one column per dimension, numbers with at "
        "most about 17 significant digits",
    )


class CappedStream:
    """A byte stream that refuses to yield more than `limits.max_uncompressed` bytes and turns
    decompression failures into messages for the participant."""

    def __init__(self, raw: BinaryIO, limits: ReadLimits, what: str, damaged: str) -> None:
        self.raw = raw
        self.limits = limits
        self.what = what
        self.damaged = damaged
        self.consumed = 0

    def read(self, n: int) -> bytes:
        try:
            block = self.raw.read(n)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            raise SubmissionError("bad_archive", f"{self.damaged} ({_plain(exc)})") from None
        self._count(len(block))
        return block

    def readinto(self, view: memoryview) -> int:
        try:
            got = self.raw.readinto(view)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            raise SubmissionError("bad_archive", f"{self.damaged} ({_plain(exc)})") from None
        self._count(got or 0)
        return got or 0

    def _count(self, n: int) -> None:
        self.consumed += n
        if self.consumed > self.limits.max_uncompressed:
            raise _too_large(self.limits, None, self.what, self.consumed)


def _plain(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "CRC" in text:
        return "its checksum does not match its content"
    if "end-of-stream" in text or "EOF" in text or "truncated" in text.lower():
        return "it ends before its compressed data does: was the upload cut short?"
    return "its compressed data is invalid"


@contextlib.contextmanager
def open_csv_stream(path: Path, limits: ReadLimits) -> Iterator[CappedStream]:
    """The CSV bytes of a submission file as a capped stream (use `with`)."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(8)
        fh.seek(0)
        if head[:2] == GZIP_MAGIC:
            _check_gzip_trailer(fh, limits)
            with gzip.GzipFile(fileobj=fh) as gz:
                yield CappedStream(
                    gz, limits, "the gzip file",
                    "the file looks like gzip but cannot be decompressed; compress the CSV "
                    "again (`gzip emb.csv`)",
                )  # fmt: skip
            return
        if head[:4] in ZIP_MAGICS:
            with _zip_member(fh, limits) as member:
                yield member
            return
        _refuse_other_formats(head)
        size = os.fstat(fh.fileno()).st_size
        if size > limits.max_uncompressed:
            raise _too_large(limits, size, "the file")
        yield CappedStream(fh, limits, "the file", "the file cannot be read")


def bytes_stream(data: bytes, limits: ReadLimits) -> CappedStream:
    """CSV bytes already in memory as a capped stream (tests, `parse_embedding_csv`)."""
    if len(data) > limits.max_uncompressed:
        raise _too_large(limits, len(data), "the file")
    return CappedStream(io.BytesIO(data), limits, "the file", "the file cannot be read")


def _refuse_other_formats(head: bytes) -> None:
    for magic, name in OTHER_FORMATS:
        if head.startswith(magic):
            raise SubmissionError(
                "unsupported_format",
                f"the file is {name}, not a CSV; submit a .csv, a .csv.gz or a .zip "
                "holding one .csv",
            )
    if head[:2] in UTF16_BOMS:
        raise SubmissionError(
            "not_utf8",
            "the file is UTF-16 text; save the CSV with UTF-8 encoding "
            "(e.g. 'CSV UTF-8' in a spreadsheet's save dialog)",
        )


def _check_gzip_trailer(fh: BinaryIO, limits: ReadLimits) -> None:
    """A gzip file ends with its uncompressed size modulo 4 GiB: a file that says it is too
    large is refused before inflating a byte (one that lies is still capped while reading).
    A size beyond what Deflate can reach from this many bytes means the end is not a gzip
    trailer (a damaged or cut file), and is ignored here."""
    size = os.fstat(fh.fileno()).st_size
    if size >= 18:
        fh.seek(size - 4)
        declared = int.from_bytes(fh.read(4), "little")
        fh.seek(0)
        if limits.max_uncompressed < declared <= size * DEFLATE_MAX_RATIO:
            raise _too_large(limits, declared, "the gzip file")


@contextlib.contextmanager
def _zip_member(fh: BinaryIO, limits: ReadLimits) -> Iterator[CappedStream]:
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
        raise SubmissionError(
            "bad_archive",
            "the file starts like a zip but its table of contents is missing or damaged (was "
            f"the upload cut short?); {REZIP}, or submit the CSV itself",
        ) from None
    with zf:
        info = _the_csv(zf)
        if info.flag_bits & 0x1 or info.compress_type == 99:
            raise SubmissionError(
                "bad_archive",
                f"your zip is password-protected ({info.filename!r}); {REZIP} and no password",
            )
        if info.compress_type not in READABLE_METHODS:
            method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise SubmissionError(
                "bad_archive", f"your zip uses {method} compression, which we cannot read; {REZIP}"
            )
        if info.file_size > limits.max_uncompressed:
            raise _too_large(limits, info.file_size, "the CSV inside the zip")
        try:
            member = zf.open(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                RuntimeError) as exc:  # fmt: skip
            raise SubmissionError(
                "bad_archive", f"the CSV inside the zip cannot be opened ({_plain(exc)}); {REZIP}"
            ) from None
        with member:
            yield CappedStream(
                member, limits, "the CSV inside the zip",
                f"the CSV inside the zip cannot be decompressed; {REZIP}",
            )  # fmt: skip


def _the_csv(zf: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The one CSV of the archive; macOS metadata (`__MACOSX/`, `._*`) and folders ignored."""
    members = [
        m
        for m in zf.infolist()
        if not m.is_dir()
        and not m.filename.startswith("__MACOSX/")
        and not Path(m.filename).name.startswith(".")
    ]
    csvs = [m for m in members if m.filename.lower().endswith(".csv")]
    if len(csvs) != 1:
        names = examples_text(m.filename for m in members) or "nothing"
        raise SubmissionError(
            "bad_archive",
            f"the zip file must hold exactly one .csv file, it holds {len(csvs)} "
            f"(contents: {names}); zip a single CSV or submit the CSV itself",
        )
    return csvs[0]
