"""Parse and validate a participant's embedding table. Reads the named file only.

A submission is a CSV with an `id` column and one column per embedding dimension, plain or inside
a `.csv.gz` or a `.zip` holding one CSV (the format is recognised by its first bytes: EvalAI keeps
only the extension of the participant's file name). Every problem becomes a `SubmissionError`
whose message is written for the participant: what is wrong, where, and how to fix it.
Non-fatal findings become `Finding`s (warning flags) and the data is repaired the way the
reference does it.

The protocol's rules (../shared/neucobench-protocol.md "Inputs"):
- embedding columns are the columns whose names are all digits, ordered by integer value; if
  there are none, every non-`id` column;
- `.zarr.zip` / `.zarr` are stripped from ids (flag `zarr_zip_not_removed_from_id_column`);
- empty / NaN cells become 0.0; more columns than `embedding_dim` is an error, fewer are
  zero-padded on the right;
- one global mean and std over the whole matrix (after id filtering and padding), std 0 -> 1.

Decisions beyond the reference: duplicate ids, infinite values and (in strict mode) text in a
number column and missing ids are errors, because each of them silently changes the numbers.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scoring.results import Finding

# pandas' default NA strings: the reference reads with pandas, so these cells are NaN there too.
NA_STRINGS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
DEFAULT_MAX_UNCOMPRESSED = 2 * 1024**3
EXAMPLES = 3


class SubmissionError(ValueError):
    """The submission cannot be scored. `str(error)` is the participant-facing message."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class EmbeddingTable:
    """Parsed embeddings: ids (n,) and a float32 matrix (n, d); d may be padded later."""

    ids: np.ndarray  # (n,) object
    matrix: np.ndarray  # (n, d) float32
    found_dim: int
    findings: tuple[Finding, ...] = ()

    @functools.cached_property
    def row_index(self) -> dict[str, int]:
        """id -> row, built once per table (every task of a submission looks its rows up)."""
        return {i: r for r, i in enumerate(self.ids.tolist())}


def _fmt(n: int) -> str:
    return f"{n:,}"


def _examples(values: Iterable[object]) -> str:
    items = list(values)
    shown = ", ".join(repr(v) for v in items[:EXAMPLES])
    return shown + (", …" if len(items) > EXAMPLES else "")


def _read_capped(stream: io.BufferedIOBase, limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise SubmissionError(
            "too_large",
            f"{what} is larger than {_fmt(limit)} bytes once uncompressed; "
            "submit one row per sample and one column per embedding dimension, nothing more",
        )
    return data


def read_submission_bytes(path: Path, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED) -> bytes:
    """The CSV bytes of a submission file: plain, gzip or a zip holding exactly one CSV."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if head[:2] == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=fh) as gz:
                    return _read_capped(gz, max_uncompressed, "the gzip file")
            except (OSError, EOFError, zlib.error) as exc:
                raise SubmissionError(
                    "bad_archive", f"the file looks like gzip but cannot be decompressed ({exc})"
                ) from None
        if head == b"PK\x03\x04" or head == b"PK\x05\x06":
            return _read_zip_member(fh, max_uncompressed)
        return _read_capped(fh, max_uncompressed, "the file")


def _read_zip_member(fh: io.BufferedIOBase, limit: int) -> bytes:
    try:
        with zipfile.ZipFile(fh) as zf:
            members = [
                m
                for m in zf.infolist()
                if not m.is_dir()
                and not m.filename.startswith("__MACOSX/")
                and not Path(m.filename).name.startswith(".")
            ]
            csvs = [m for m in members if m.filename.lower().endswith(".csv")]
            if len(csvs) != 1:
                names = _examples(m.filename for m in members) or "nothing"
                raise SubmissionError(
                    "bad_archive",
                    f"the zip file must hold exactly one .csv file, it holds {len(csvs)} "
                    f"(contents: {names}); zip a single CSV or submit the CSV itself",
                )
            if csvs[0].file_size > limit:
                raise SubmissionError(
                    "too_large", f"the CSV inside the zip is larger than {_fmt(limit)} bytes"
                )
            with zf.open(csvs[0]) as member:
                return _read_capped(member, limit, "the CSV inside the zip")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise SubmissionError("bad_archive", f"the zip file is damaged ({exc})") from None


def _check_utf8(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SubmissionError(
            "not_utf8",
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} "
            "cannot be decoded; save the CSV with UTF-8 encoding",
        ) from None


def _header(data: bytes) -> list[str]:
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).decode("utf-8").rstrip("\r")
    names = [h.strip() for h in next(csv.reader([first]))]
    if len(names) == 1 and any(sep in first for sep in (";", "\t")):
        sep = ";" if ";" in first else "tab"
        raise SubmissionError(
            "bad_separator",
            f"the header uses {sep!r} as separator; the file must be comma-separated",
        )
    return names


def embedding_columns(names: list[str]) -> list[str]:
    """The protocol's rule: all-digit names by integer value, else every non-id column."""
    digits = [n for n in names if n.isdigit()]
    if digits:
        return sorted(digits, key=int)
    return [n for n in names if n != "id"]


def _columns(names: list[str]) -> tuple[list[str], list[Finding]]:
    findings: list[Finding] = []
    if "id" not in names:
        shown = ",".join(names[:4]) + (",…" if len(names) > 4 else "")
        raise SubmissionError(
            "no_id_column",
            f"there is no 'id' column (the header starts '{shown}'); name the column that "
            "holds the sample ids exactly 'id'",
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SubmissionError(
            "duplicate_columns",
            f"column name(s) {_examples(dupes)} appear more than once in the header; "
            "every column needs a unique name",
        )
    emb = embedding_columns(names)
    if not emb:
        raise SubmissionError(
            "no_embedding_columns",
            "the file has an 'id' column but no embedding columns; add one column per "
            "dimension named 0, 1, 2, …",
        )
    as_int = [int(n) for n in emb if n.isdigit()]
    if len(set(as_int)) != len(as_int):
        raise SubmissionError(
            "duplicate_columns",
            "two embedding columns name the same dimension (e.g. '1' and '01'); "
            "name them 0, 1, 2, … without leading zeros",
        )
    ignored = [n for n in names if n != "id" and n not in emb]
    if ignored:
        findings.append(
            Finding(
                "extra_columns_ignored",
                f"{len(ignored)} non-numeric column name(s) ignored: {_examples(ignored)}",
            )
        )
    return emb, findings


def _locate_bad_cells(data: bytes, columns: list[str]) -> list[tuple[int, str, str]]:
    """(row, column, text) of cells that are neither numbers nor NA strings. Slow path."""
    table = pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            include_columns=columns,
            null_values=NA_STRINGS,
            strings_can_be_null=True,
        ),
    )
    bad: list[tuple[int, str, str]] = []
    for name in columns:
        col = table.column(name)
        try:
            pc.cast(col, pa.float64())
            continue
        except pa.ArrowInvalid:
            pass
        for row, text in enumerate(col.to_pylist(), start=1):
            if text is None:
                continue
            try:
                float(text)
            except ValueError:
                bad.append((row, name, text))
    bad.sort()
    return bad


def _parse_table(data: bytes, emb: list[str], strict: bool) -> tuple[pa.Table, list[Finding]]:
    findings: list[Finding] = []
    ragged: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        ragged.append(row)
        return "error"

    def read(types: dict[str, pa.DataType]) -> pa.Table:
        return pacsv.read_csv(
            io.BytesIO(data),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=["id", *emb],
                null_values=NA_STRINGS,
                strings_can_be_null=False,
            ),
        )

    types: dict[str, pa.DataType] = {"id": pa.string(), **{c: pa.float64() for c in emb}}
    try:
        return read(types), findings
    except pa.ArrowInvalid as exc:
        if ragged:
            bad = ragged[0]
            where = f"line {bad.number}" if bad.number is not None else "a line"
            raise SubmissionError(
                "ragged_rows",
                f"{where} has {_fmt(bad.actual_columns)} fields but the header has "
                f"{_fmt(bad.expected_columns)}; every row needs an id and one value per column",
            ) from None
        if "conversion error" not in str(exc).lower():
            raise SubmissionError("unreadable_csv", f"the CSV cannot be read: {exc}") from None
    bad_cells = _locate_bad_cells(data, emb)
    if not bad_cells:  # pragma: no cover - arrow disagreed with Python's float(); be explicit
        raise SubmissionError("unreadable_csv", "the CSV has cells that are not numbers")
    row, col, text = bad_cells[0]
    summary = (
        f"row {row} (line {row + 1}): column {col} is {text[:40]!r}, not a number"
        + (f" ({_fmt(len(bad_cells))} such cells in all)" if len(bad_cells) > 1 else "")
    )
    if strict:
        raise SubmissionError(
            "non_numeric", summary + "; write every embedding value as a plain decimal number"
        )
    findings.append(Finding("non_numeric_values_replaced_with_zero", summary + " -> 0.0"))
    text_types = {**types, **{c: pa.string() for c in {c for _, c, _ in bad_cells}}}
    table = read(text_types)
    for name in {c for _, c, _ in bad_cells}:
        as_text = table.column(name)
        numeric = [_to_float_or_none(v) for v in as_text.to_pylist()]
        idx = table.column_names.index(name)
        table = table.set_column(idx, name, pa.array(numeric, pa.float64()))
    return table, findings


def _to_float_or_none(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_embedding_csv(data: bytes, *, strict: bool = True) -> EmbeddingTable:
    """Parse CSV bytes into ids and a float32 matrix, validating as it goes."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise SubmissionError(
            "empty_file", "the file is empty; expected a header 'id,0,1,…' and one row per sample"
        )
    _check_utf8(data)
    names = _header(data)
    emb, findings = _columns(names)
    table, parse_findings = _parse_table(data, emb, strict)
    findings += parse_findings
    if table.num_rows == 0:
        raise SubmissionError(
            "no_rows", "the file has a header but no rows; add one row per sample"
        )

    matrix64 = np.empty((table.num_rows, len(emb)), dtype=np.float64)
    for j, name in enumerate(emb):
        matrix64[:, j] = table.column(name).to_numpy()
    ids = np.asarray(table.column("id").to_pylist(), dtype=object)
    del table

    inf = np.isinf(matrix64)
    if inf.any():
        row, col = np.argwhere(inf)[0]
        raise SubmissionError(
            "infinite_values",
            f"row {row + 1}: column {emb[col]} is {matrix64[row, col]}; "
            f"{_fmt(int(inf.sum()))} infinite value(s) in all — embeddings must be finite numbers",
        )
    with np.errstate(over="ignore"):
        matrix = matrix64.astype(np.float32)
    del matrix64
    overflow = np.isinf(matrix)
    if overflow.any():
        row, col = np.argwhere(overflow)[0]
        raise SubmissionError(
            "values_too_large",
            f"row {row + 1}: column {emb[col]} is too large for a 32-bit float "
            "(|value| > 3.4e38); rescale the embeddings",
        )
    nan = np.isnan(matrix)
    if nan.any():
        findings.append(
            Finding(
                "nan_values_replaced_with_zero",
                f"{_fmt(int(nan.sum()))} empty or NaN cell(s) were replaced by 0.0",
            )
        )
        matrix[nan] = 0.0

    ids, id_findings = _clean_ids(ids)
    return EmbeddingTable(ids, matrix, len(emb), tuple(findings + id_findings))


def _clean_ids(ids: np.ndarray) -> tuple[np.ndarray, list[Finding]]:
    findings: list[Finding] = []
    texts = [str(i).strip() for i in ids.tolist()]
    empty = [r for r, t in enumerate(texts, start=1) if t == ""]
    if empty:
        raise SubmissionError(
            "empty_id",
            f"row {empty[0]} has an empty id ({_fmt(len(empty))} row(s) in all); "
            "every row needs the id of its sample",
        )
    # The reference replaces the substrings anywhere in the id, not only at the end.
    cleaned = [t.replace(".zarr.zip", "").replace(".zarr", "") for t in texts]
    changed = sum(a != b for a, b in zip(texts, cleaned, strict=True))
    if changed:
        findings.append(
            Finding(
                "zarr_zip_not_removed_from_id_column",
                f"'.zarr.zip' / '.zarr' was stripped from {_fmt(changed)} id(s)",
            )
        )
    seen: set[str] = set()
    dupes: list[str] = []
    for t in cleaned:
        if t in seen:
            dupes.append(t)
        seen.add(t)
    if dupes:
        distinct = list(dict.fromkeys(dupes))
        raise SubmissionError(
            "duplicate_ids",
            f"{_fmt(len(distinct))} duplicate id(s), e.g. {_examples(distinct)}; "
            "each sample must appear exactly once",
        )
    return np.asarray(cleaned, dtype=object), findings


def prepare_embeddings(
    table: EmbeddingTable,
    expected_ids: Iterable[str],
    *,
    embedding_dim: int | None,
    strict: bool,
    standardize: bool = True,
    exclude_ids: Iterable[str] = (),
) -> EmbeddingTable:
    """Filter to the ids the tasks need, check missing ids, pad, and standardise globally."""
    findings = list(table.findings)
    dim = embedding_dim if embedding_dim is not None else table.found_dim
    if table.found_dim > dim:
        raise SubmissionError(
            "too_many_columns",
            f"{_fmt(table.found_dim)} embedding columns, the limit is {_fmt(dim)}; "
            f"submit at most {_fmt(dim)} values per sample",
        )
    expected = set(expected_ids) - set(exclude_ids)
    keep = np.fromiter((i in expected for i in table.ids.tolist()), bool, len(table.ids))
    extra = int((~keep).sum())
    if extra:
        findings.append(
            Finding("extra_ids_ignored", f"{_fmt(extra)} id(s) not used by any task were ignored")
        )
    present = set(table.ids[keep].tolist())
    missing = sorted(expected - present)
    if missing:
        message = (
            f"{_fmt(len(missing))} id(s) required by the hidden tasks are missing, "
            f"e.g. {_examples(missing)}"
        )
        if strict:
            raise SubmissionError(
                "missing_ids", message + "; submit one embedding for every sample of the data set"
            )
        findings.append(Finding("missing_ids_dropped", message + " (dropped from scoring)"))
    if not keep.any():
        raise SubmissionError(
            "no_matching_ids",
            f"none of the {_fmt(len(table.ids))} ids matches a labelled sample, "
            f"e.g. yours: {_examples(table.ids[:EXAMPLES].tolist())}; "
            "use the data cube file names (without .zarr.zip) as ids",
        )
    matrix = table.matrix[keep]
    if table.found_dim < dim:
        findings.append(
            Finding(
                "embedding_zero_padded",
                f"{_fmt(table.found_dim)} embedding columns were zero-padded to {_fmt(dim)}",
            )
        )
        matrix = np.pad(matrix, ((0, 0), (0, dim - table.found_dim)))
    if standardize:
        mu = matrix.mean(dtype=np.float64)
        sigma = matrix.std(dtype=np.float64)
        sigma = sigma if sigma != 0 else 1.0
        matrix = ((matrix - mu) / sigma).astype(np.float32)
    return EmbeddingTable(table.ids[keep], np.ascontiguousarray(matrix), dim, tuple(findings))


def load_submission(
    path: Path,
    expected_ids: Iterable[str],
    *,
    embedding_dim: int | None,
    strict: bool,
    standardize: bool = True,
    exclude_ids: Iterable[str] = (),
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
) -> EmbeddingTable:
    """Read, parse, validate and prepare a submission file for scoring."""
    data = read_submission_bytes(Path(path), max_uncompressed)
    table = parse_embedding_csv(data, strict=strict)
    del data
    return prepare_embeddings(
        table,
        expected_ids,
        embedding_dim=embedding_dim,
        strict=strict,
        standardize=standardize,
        exclude_ids=exclude_ids,
    )
