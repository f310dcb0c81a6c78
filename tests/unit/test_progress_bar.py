"""The CLI's progress bar: tasks x splits on a terminal, silent otherwise."""

from __future__ import annotations

import io

from scoring.cli import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_counts_splits_on_a_terminal():
    stream = Terminal()
    bar = ProgressBar(stream, total_splits=2 * 40, k=40)
    bar(0, 2, 10, 20)  # task 1, half its epochs
    bar(1, 2, 20, 20)  # the end
    text = stream.getvalue()
    assert "task 1/2 · 20/80 splits" in text
    assert text.endswith("task 2/2 · 80/80 splits\n")
    assert "[##############################]" in text


def test_progress_bar_is_silent_when_not_a_terminal():
    stream = io.StringIO()
    ProgressBar(stream, total_splits=80, k=40)(1, 2, 20, 20)
    assert stream.getvalue() == ""
