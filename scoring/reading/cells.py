"""Parse one block of CSV lines into ids and a float32 matrix. Pure.

Axes: n rows of the block, d embedding columns (in dimension order).

Numbers take the reference's decimal-to-float path: the text is parsed to the nearest float64
(the reference reads with pandas, whose float64 is the same for every value we have checked)
and then rounded to float32, as the reference's `to_numpy(dtype=np.float32)` does. Parsing
straight to float32 would round once instead of twice and differ in rare last bits.

The fast path parses the block with Arrow's CSV reader; when it fails, the block is looked at
again more slowly to name the problem (`problems`): blank lines and numbers padded with spaces
are accepted there (pandas accepts them), everything else is refused with its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scoring.reading.arrow_arrays import null_string, numeric_values, string_array
from scoring.reading.header import Header
from scoring.reading.problems import (
    NUMBER,
    CleanBlock,
    LineProblem,
    bad_cell_message,
    check_bytes,
    check_lines,
)

# pandas' default NA strings: the reference reads with pandas, so these cells are NaN there too.
NA_STRINGS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
NA_ARRAY = string_array(NA_STRINGS)
NULL_TEXT = null_string()


@dataclass(frozen=True)
class ParsedBlock:
    """One block's rows: ids as written, numbers as float32, where each row was."""

    ids: pa.Array  # (n,) string
    matrix: np.ndarray  # (n, d) float32 (a transposed view), NaN replaced by 0.0
    row_offsets: np.ndarray  # (n,) line offset of each row within the block
    lines: int  # lines in the block, blank ones included
    nan_cells: int  # empty or NaN cells replaced by 0.0
    nan_per_row: np.ndarray  # (n,) of them in each row (empty when nan_cells is 0)


class BlockParser:
    """Parses blocks of one file's rows (after its header); safe to call from many threads."""

    def __init__(self, header: Header) -> None:
        self.header = header
        self.n_fields = len(header.names)
        self.column_names = [f"c{k}" for k in range(self.n_fields)]
        self.id_column = f"c{header.id_index}"
        self.value_columns = [f"c{k}" for k in header.embedding_indices]

    def parse(self, data: bytes | bytearray) -> ParsedBlock:
        check_bytes(data)
        clean = check_lines(data, self.n_fields) if b'"' in data else None
        if clean is not None:  # a quoted value could hide a line end: lines checked first
            data = clean.data
        table, invalid = self._read(data, pa.float64())
        if clean is None and (invalid or (table is not None and _has_empty_id(table))):
            # a ragged line, or a blank one (read as a row without id): find it, drop blanks
            clean = check_lines(data, self.n_fields)
            data = clean.data
            table, invalid = self._read(data, pa.float64())
        if table is None and not invalid:  # a value that is not a plain number
            text, invalid = self._read(data, pa.string())
            if text is not None:
                table = self._convert_text(text, self._offsets(clean, text.num_rows))
        if table is None:
            last = clean.lines - 1 if clean is not None else data.count(b"\n")
            raise LineProblem(
                0, "unreadable_csv", "lines {line}-{last} cannot be read as comma-separated "
                "rows of the header's columns", max(last, 0),
            )  # fmt: skip
        offsets = self._offsets(clean, table.num_rows)
        lines = clean.lines if clean is not None else table.num_rows
        matrix, nan_per_row = self._matrix(table, offsets)
        nan_cells = int(nan_per_row.sum())
        return ParsedBlock(table.column(0), matrix, offsets, lines, nan_cells, nan_per_row)

    @staticmethod
    def _offsets(clean: CleanBlock | None, rows: int) -> np.ndarray:
        if clean is None:
            return np.arange(rows)
        return np.asarray(clean.row_offsets, dtype=np.int64)

    def _read(
        self, data: bytes | bytearray, value_type: pa.DataType
    ) -> tuple[pa.Table | None, bool]:
        """(table, saw a ragged/blank line); table None when a value did not convert."""
        invalid: list[int] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            invalid.append(1)
            return "error"

        if not data:
            return self._empty(), False
        try:
            table = pacsv.read_csv(
                pa.py_buffer(data),
                read_options=pacsv.ReadOptions(
                    column_names=self.column_names, use_threads=False, block_size=len(data) + 1
                ),
                parse_options=pacsv.ParseOptions(
                    ignore_empty_lines=False, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={
                        self.id_column: pa.string(),
                        **{c: value_type for c in self.value_columns},
                    },
                    include_columns=[self.id_column, *self.value_columns],
                    null_values=NA_STRINGS,
                    strings_can_be_null=value_type == pa.string(),
                    quoted_strings_can_be_null=True,
                ),
            )
        except pa.ArrowException:
            return None, bool(invalid)
        return table, False

    def _empty(self) -> pa.Table:
        return pa.table(
            {
                self.id_column: pa.nulls(0, pa.string()),
                **{c: pa.nulls(0, pa.float64()) for c in self.value_columns},
            }
        )

    def _convert_text(self, table: pa.Table, offsets: np.ndarray) -> pa.Table:
        """Every value read as text, padding spaces trimmed, then converted; the first value
        that is not a number is refused with its line and column."""
        columns = [table.column(0)]
        first_bad: tuple[int, int, str] | None = None
        bad_count = 0
        for j, name in enumerate(self.value_columns, start=1):
            text = pc.utf8_trim(table.column(name), characters=" \t")
            text = pc.if_else(pc.is_in(text, value_set=NA_ARRAY), NULL_TEXT, text)
            try:
                columns.append(pc.cast(text, pa.float64()))
                continue
            except pa.ArrowInvalid:
                pass
            values = text.to_pylist()
            bad = [r for r, v in enumerate(values) if v is not None and not NUMBER.fullmatch(v)]
            if not bad:  # the fast parser and our grammar disagree: find the cell by halving
                bad = [_first_unconvertible(text)]
            bad_count += len(bad)
            if first_bad is None or bad[0] < first_bad[0]:
                first_bad = (bad[0], j, values[bad[0]])
        if first_bad is None:
            return pa.table(columns, names=[self.id_column, *self.value_columns])
        row, j, value = first_bad
        column = self.header.names[self.header.embedding_indices[j - 1]]
        raise LineProblem(
            int(offsets[row]),
            "non_numeric",
            bad_cell_message(column, value, bad_count),
            int(offsets[-1]),
        )

    def _matrix(self, table: pa.Table, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The block's numbers as an (n, d) float32 view of a (d, n) array (each column is
        written at once; the reader copies the rows into place), NaN set to 0.0, and the
        number of NaN cells of each row."""
        n, d = table.num_rows, len(self.value_columns)
        by_column = np.empty((d, n), dtype=np.float32)
        with np.errstate(over="ignore"):
            for j in range(d):
                by_column[j] = numeric_values(table.column(j + 1), np.nan)
        infinite = np.isinf(by_column)
        if infinite.any():
            row, col = (int(v) for v in np.argwhere(infinite.T)[0])
            self._refuse_infinite(table, row, col, int(infinite.sum()), offsets)
        del infinite
        nan = np.isnan(by_column)
        if not nan.any():
            return by_column.T, np.zeros(0, np.int64)
        by_column[nan] = 0.0
        return by_column.T, nan.sum(axis=0)

    def _refuse_infinite(
        self, table: pa.Table, row: int, col: int, count: int, offsets: np.ndarray
    ) -> None:
        column = self.header.names[self.header.embedding_indices[col]]
        value = table.column(col + 1)[row].as_py()
        if np.isinf(value):
            raise LineProblem(
                int(offsets[row]),
                "infinite_values",
                f"line {{line}}, column {column!r} is {value}; {count:,} infinite value(s) "
                "in lines {line}-{last}: embeddings must be finite numbers",
                int(offsets[-1]),
            )
        raise LineProblem(
            int(offsets[row]),
            "values_too_large",
            f"line {{line}}, column {column!r} is {value:g}, too large for a 32-bit float "
            "(|value| > 3.4e38); rescale the embeddings",
        )


def _has_empty_id(table: pa.Table) -> bool:
    ids = table.column(0)
    # pc.min, not pc.equal(..., 0): a Python scalar argument makes pyarrow import pandas.
    return table.num_rows > 0 and pc.min(pc.utf8_length(ids)).as_py() == 0


def _first_unconvertible(text: pa.ChunkedArray) -> int:
    """Index of the first value that does not convert to float64, by halving."""
    lo, hi = 0, len(text)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pc.cast(text.slice(lo, mid - lo), pa.float64())
            lo = mid
        except pa.ArrowInvalid:
            hi = mid
    return lo
