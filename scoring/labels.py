"""Load a hidden-task annotation folder: one `<task>__<regr|cls|mcls>.csv` per task. Reads files.

Rows keep the label file's order: with split seed 42 that order reproduces the reference's
splits, so a label file (including its row order) is part of the benchmark's identity.
Rows with an empty label are skipped, as the reference does.

Beyond the reference: `mcls` (multi-class) files, whose labels are integers or class names
(stored as the index of the class in `Task.classes`: integers in numeric order, names in
alphabetical order), and an optional `group` column (e.g. a region) that `split_mode: grouped`
keeps on one side of every split.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = {
    "regr": "regr",
    "regression": "regr",
    "cls": "cls",
    "classification": "cls",
    "mcls": "mcls",
}
TASK_FILE = re.compile(r"^(?P<task>[A-Za-z0-9][A-Za-z0-9_.\-]*?)__(?P<kind>[A-Za-z]+)\.csv$")


class AnnotationError(ValueError):
    """The annotation folder or one of its files is unusable; the message says how to fix it.
    `problems` has one line per unusable file (the message: the first, and how many more)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


@dataclass(frozen=True)
class Task:
    """One hidden task: ids and float labels in label-file order."""

    name: str
    kind: str  # "regr" | "cls" | "mcls"
    ids: tuple[str, ...]
    labels: np.ndarray  # (n,) float64; for mcls the class index into `classes`
    skipped_empty: int = 0
    classes: tuple[str, ...] = ()  # mcls: the class names, in label-index order
    groups: tuple[str, ...] | None = None  # the `group` column, when the file has one

    @property
    def n_rows(self) -> int:
        return len(self.ids)


def _parse_task_file(path: Path) -> Task:
    match = TASK_FILE.match(path.name)
    if not match:
        raise AnnotationError(
            f"{path.name}: label files must be named <task>__<regr|cls|mcls>.csv, "
            "e.g. biomass_mean__regr.csv"
        )
    kind = KINDS.get(match["kind"].lower())
    if kind is None:
        raise AnnotationError(
            f"{path.name}: task type '{match['kind']}' is not regr, cls or mcls "
            "(rename the file to <task>__regr.csv, <task>__cls.csv or <task>__mcls.csv)"
        )
    reader = csv.reader(_read_text(path).splitlines())
    try:
        return _parse_rows(path, match["task"], kind, reader)
    except csv.Error as exc:
        raise AnnotationError(f"{path.name}: line {reader.line_num}: {_csv_problem(exc)}") from None


def _read_text(path: Path) -> str:
    """The file's text; an unreadable file or one that is not UTF-8 is an AnnotationError
    that says where (the line and column of the first bad byte)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AnnotationError(
            f"{path.name}: cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    data = data.removeprefix(codecs.BOM_UTF8)
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise AnnotationError(
            f"{path.name}: line {line}: the file contains a NUL byte (is it a binary file?)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise AnnotationError(
            f"{path.name}: line {line}, column {column}: byte 0x{data[exc.start]:02x} is not "
            "UTF-8 text; save the file as UTF-8"
        ) from None


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"not readable as CSV ({text})"


def _parse_rows(path: Path, name: str, kind: str, reader: Iterator[list[str]]) -> Task:
    header = next(reader, None)
    if header is None:
        raise AnnotationError(f"{path.name}: the file is empty; expected a header 'id,label'")
    header = [h.strip() for h in header]
    if "id" not in header or "label" not in header:
        raise AnnotationError(
            f"{path.name}: the header must contain columns 'id' and 'label', got {header!r}"
        )
    id_col, label_col = header.index("id"), header.index("label")
    group_col = header.index("group") if "group" in header else None
    ids: list[str] = []
    raw_labels: list[str] = []
    groups: list[str] = []
    skipped = 0
    seen: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) <= max(id_col, label_col, group_col or 0):
            raise AnnotationError(
                f"{path.name}: line {line_no} has {len(row)} field(s), fewer than the header's "
                f"columns need ({max(id_col, label_col, group_col or 0) + 1})"
            )
        raw_id, raw_label = row[id_col].strip(), row[label_col].strip()
        if raw_label == "":
            skipped += 1
            continue
        if raw_id == "":
            raise AnnotationError(f"{path.name}: line {line_no} has an empty id")
        if kind != "mcls":
            _check_number(path, line_no, raw_label)
        if group_col is not None:
            group = row[group_col].strip()
            if group == "":
                raise AnnotationError(
                    f"{path.name}: line {line_no} has an empty group; every labelled row of a "
                    "file with a 'group' column needs one"
                )
            groups.append(group)
        if raw_id in seen:
            raise AnnotationError(
                f"{path.name}: id {raw_id!r} appears twice (lines {seen[raw_id]} and {line_no})"
            )
        seen[raw_id] = line_no
        ids.append(raw_id)
        raw_labels.append(raw_label)
    if len(ids) < 2:
        raise AnnotationError(f"{path.name}: needs at least 2 labelled rows, found {len(ids)}")
    group_ids = tuple(groups) if group_col is not None else None
    if kind == "mcls":
        classes, values = _class_indices(path, raw_labels)
        return Task(name, kind, tuple(ids), values, skipped, classes, group_ids)
    values = np.asarray([float(v) for v in raw_labels], dtype=np.float64)
    if values.min() == values.max():
        raise AnnotationError(
            f"{path.name}: every label is {values[0]:g}; a constant task cannot be scored "
            "(min-max normalisation would divide by zero)"
        )
    if kind == "cls" and not np.isin(values, (0.0, 1.0)).all():
        bad = values[~np.isin(values, (0.0, 1.0))][0]
        raise AnnotationError(f"{path.name}: classification labels must be 0 or 1, found {bad:g}")
    return Task(name, kind, tuple(ids), values, skipped, groups=group_ids)


def _check_number(path: Path, line_no: int, raw_label: str) -> None:
    try:
        value = float(raw_label)
    except ValueError:
        raise AnnotationError(
            f"{path.name}: line {line_no}: label {raw_label!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise AnnotationError(f"{path.name}: line {line_no}: label {raw_label!r} is not finite")


def _class_indices(path: Path, raw_labels: list[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Class names and each row's class index: integers sort numerically, names by text."""
    names = set(raw_labels)
    try:
        numbers = {name: int(name) for name in names}
        classes = tuple(sorted(names, key=numbers.__getitem__))
    except ValueError:
        classes = tuple(sorted(names))
    if len(classes) < 2:
        raise AnnotationError(
            f"{path.name}: a multi-class task needs at least 2 classes, found only {classes[0]!r}"
        )
    index = {name: i for i, name in enumerate(classes)}
    return classes, np.asarray([index[v] for v in raw_labels], dtype=np.float64)


def load_tasks(folder: Path) -> tuple[Task, ...]:
    """All tasks of an annotation folder, sorted by task name."""
    folder = Path(folder)
    if not folder.exists():
        raise AnnotationError(f"annotation folder not found: {folder}")
    if not folder.is_dir():
        raise AnnotationError(f"annotation path is not a folder: {folder}")
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    except OSError as exc:
        raise AnnotationError(
            f"annotation folder {folder} cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    if not files:
        raise AnnotationError(
            f"no <task>__<regr|cls|mcls>.csv files in {folder}; put one label file per task there"
        )
    tasks, problems = [], []
    for path in files:
        try:
            tasks.append(_parse_task_file(path))
        except AnnotationError as exc:
            problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - 1} more file(s) with problems)" if len(problems) > 1 else ""
        raise AnnotationError(problems[0] + more, problems)
    names = [t.name for t in tasks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise AnnotationError(f"task(s) defined twice in {folder}: {', '.join(dupes)}")
    return tuple(sorted(tasks, key=lambda t: t.name))


def select_tasks(tasks: tuple[Task, ...], task_filter: tuple[str, ...] | None) -> tuple[Task, ...]:
    """Keep the tasks named in task_filter (None keeps all); unknown names are an error."""
    if task_filter is None:
        return tasks
    known = {t.name for t in tasks}
    unknown = [n for n in task_filter if n not in known]
    if unknown:
        raise AnnotationError(
            f"task_filter names unknown task(s): {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return tuple(t for t in tasks if t.name in set(task_filter))
