"""The reading boundary's error tree and the two helpers its messages share. Pure.

    SubmissionError          the submission cannot be scored; the participant's to fix
     └── UnreadableFile      anything unexpected raised while reading a file, with the reason

`str(error)` is always the participant-facing message: what is wrong, where (line, column),
and how to fix it. No library or parser vocabulary belongs in it. The worker fails a
submission that raises any `SubmissionError` as the participant's error ("it does not count
as an internal failure"); an `UnreadableFile` is the same for the worker, the code only says
that the cause was not one of the named checks.
"""

from __future__ import annotations

from collections.abc import Iterable

EXAMPLES = 3


class SubmissionError(ValueError):
    """The submission cannot be scored. `str(error)` is the participant-facing message."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


class UnreadableFile(SubmissionError):
    """Something unforeseen went wrong while reading the file: still the file's problem."""

    def __init__(self, reason: str) -> None:
        super().__init__("unreadable_file", f"we could not read your file: {reason}")


def count_text(n: int) -> str:
    """1234567 -> '1,234,567'."""
    return f"{n:,}"


def examples_text(values: Iterable[object]) -> str:
    """The first few values, repr'd and comma-separated, with an ellipsis when there are more."""
    items = []
    for value in values:
        items.append(value)
        if len(items) > EXAMPLES:
            break
    shown = ", ".join(repr(v) for v in items[:EXAMPLES])
    return shown + (", …" if len(items) > EXAMPLES else "")
