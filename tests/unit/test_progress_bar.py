"""The CLI's progress bar: tasks x splits on a terminal, in any task order, silent otherwise."""

from __future__ import annotations

import io

from scoring.cli import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_counts_splits_of_tasks_scored_in_parallel():
    stream = Terminal()
    bar = ProgressBar(stream, total_splits=2 * 40, k=40)
    bar(1, 2, 10, 20)  # the second task is half done before the first starts
    assert stream.getvalue().endswith("tasks done 0/2 · 20/80 splits")
    bar(0, 2, 20, 20)
    assert stream.getvalue().endswith("tasks done 1/2 · 60/80 splits")
    bar(1, 2, 20, 20)  # the end
    text = stream.getvalue()
    assert text.endswith("tasks done 2/2 · 80/80 splits\n")
    assert "[##############################]" in text


def test_progress_bar_is_silent_when_not_a_terminal():
    stream = io.StringIO()
    ProgressBar(stream, total_splits=80, k=40)(1, 2, 20, 20)
    assert stream.getvalue() == ""
