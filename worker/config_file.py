"""The challenge YAML file -> the plain mapping `worker.settings.settings_from` validates.
I/O: reads the one file it is given.

Whatever can be wrong with the file itself is a `ConfigError` with one line per problem (the
CLI's exit 2), never a traceback:
- not found, a folder, or unreadable;
- not UTF-8: the line and column of the first bad byte (and a hint when it is UTF-16);
- not YAML: the line and column where the parser stopped, and what it expected there;
- nested deeper than `MAX_DEPTH` levels, anchors and aliases (`&a` ... `*a`) that refer to
  themselves or expand to more than `MAX_VALUES` values: refused from the parser's event
  stream, which is not recursive, before anything recursive builds the document (PyYAML's
  composer recurses once per level, so 5,000 levels would end in a RecursionError).

A line never quotes the file's content: a YAML may hold a database password.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from scoring.config import ConfigError

MAX_DEPTH = 64  # a real challenge YAML is 4-5 levels deep
MAX_VALUES = 100_000  # every value counted as often as aliases repeat it


def read_challenge_yaml(path: Path) -> Any:
    """The parsed YAML document of `path` (an empty file gives {})."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"], str(path)) from None
    except IsADirectoryError:
        raise ConfigError([f"{path} is a folder, not a YAML file"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror or type(exc).__name__}"],
                          str(path)) from None
    return parse_challenge_yaml(data, str(path))


def parse_challenge_yaml(data: bytes, source: str = "config") -> Any:
    text = _decode(data, source)
    _check_shape(text, source)
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_problem(exc, text)], source) from None
    except RecursionError:  # the shape check makes this unreachable; never a traceback
        raise ConfigError([f"nested too deeply (more than {MAX_DEPTH} levels)"],
                          source) from None


def _decode(data: bytes, source: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConfigError(["the file is UTF-16 text, not UTF-8: save it as UTF-8"], source)
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, "
                           f"column {column}; save the file as UTF-8"], source) from None


def yaml_problem(exc: yaml.YAMLError, text: str | None = None) -> str:
    """One line about a PyYAML error: where, and what (never the offending text)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = ", ".join(part for part in (exc.context, exc.problem) if part)
        return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {what}"
    if isinstance(exc, yaml.reader.ReaderError):
        where = f"position {exc.position + 1}"
        if text is not None:
            line = text.count("\n", 0, exc.position) + 1
            where = f"line {line}, column {exc.position - text.rfind(chr(10), 0, exc.position)}"
        return (f"not valid YAML: character #x{exc.character:04x} at {where} is not allowed in "
                "YAML (a control character?)")
    return "not valid YAML: " + " ".join(str(exc).split())


def _too_deep(mark: Any) -> str:
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return (f"nested more than {MAX_DEPTH} levels deep{where}; a challenge config needs about 5 "
            "(is this the right file?)")


def _check_shape(text: str, source: str) -> None:
    """Refuse documents too deep or too large once aliases are expanded, from the parser's
    events (a state machine, no recursion). Syntax errors are left to `yaml.safe_load`,
    which reports them with the same marks."""
    open_nodes: list[list[Any]] = []  # per open collection: [anchor, height below it]
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, height), once closed
    counts: list[int] = [0]  # values per open collection, plus the document level
    values = 0

    def add(n: int, height: int) -> None:
        counts[-1] += n
        if open_nodes:
            open_nodes[-1][1] = max(open_nodes[-1][1], height)

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(open_nodes) >= MAX_DEPTH:
                    raise ConfigError([_too_deep(event.start_mark)], source)
                open_nodes.append([event.anchor, 0])
                counts.append(1)
                values += 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, height = open_nodes.pop()
                n = counts.pop()
                if anchor is not None:
                    anchors[anchor] = (n, height + 1)
                add(n, height + 1)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    anchors[event.anchor] = (1, 0)
                add(1, 0)
                values += 1
            elif isinstance(event, yaml.AliasEvent):
                if any(node[0] == event.anchor for node in open_nodes):
                    raise ConfigError([f"the alias *{event.anchor} at line "
                                       f"{event.start_mark.line + 1} refers to a value that "
                                       "contains it (a loop)"], source)
                n, height = anchors.get(event.anchor, (1, 0))  # undefined: safe_load says so
                if len(open_nodes) + height > MAX_DEPTH:
                    raise ConfigError([_too_deep(event.start_mark)], source)
                add(n, height)
                values += n
            if values > MAX_VALUES:
                raise ConfigError([f"more than {MAX_VALUES:,} values once its aliases (*name) "
                                   "are expanded; a challenge config has a few dozen"], source)
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_problem(exc, text)], source) from None
