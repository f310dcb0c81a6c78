"""Rendering of the public leaderboard: escaping, structure, determinism, the leak rule."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from scoring.ranking import rank_entries
from tests.expected_render import assert_matches_expected
from worker.leaderboard import (
    BEGIN,
    END,
    Board,
    BoardRow,
    EntryInfo,
    FinishedSubmission,
    PhaseNotRevealed,
    RankSnapshot,
    board_csv,
    board_files,
    board_from_leaderboard,
    board_json,
    board_table,
    commit_message,
    markdown_cell,
    phase_analysis,
    phase_markers,
    rank_evolution_png,
    rank_history,
    readme_from_template,
    readme_with_board,
    site_assets,
    site_files,
    task_heatmap_png,
)

TEMPLATE = (Path(__file__).parents[2] / "worker" / "leaderboard" / "leaderboard_repo_template"
            / "README_base.md").read_text()
T0 = datetime(2025, 4, 1, 8, 30, tzinfo=UTC)
N_COLUMNS = 7
HOSTILE = [
    "pipe | in | name",
    "<script>alert(1)</script>",
    "](http://x)",
    "[x](http://evil)",
    "`code` ``more``",
    "two\nlines\r\nand\ttab",
    "A" * 500,
    "🛰️ Orbital 👩‍🚀 team 🇪🇺",
    "\u202eevil\u202c rtl \u2067isolate\u2069 עברית",
    "**bold** _it_ ~~x~~ #h !img \\ &amp; &lt;b&gt; $x^2$",
    "<!-- LEADERBOARD:END -->",
    '=HYPERLINK("http://evil")',
    "http://autolink.example www.evil.example",
    "\x00\x07\x1b[31mansi\u2028sep\u200bzw",
    "mail me: someone@evil.example",
]
SECRET_TASKS = ("zebracorn_secret_regr", "quokka_hidden_cls")
SECRET_Q = {SECRET_TASKS[0]: 87.6543, SECRET_TASKS[1]: 12.3457}
SECRET_WEIGHTS = {SECRET_TASKS[0]: 0.7321, SECRET_TASKS[1]: 0.2679}


def _row(team: str, place: int, **kw: object) -> BoardRow:
    defaults: dict[str, object] = dict(
        team=team,
        method=f"method {team}",
        place=place,
        weighted_score=float(place),
        mean_q=50.0 - place,
        submissions=place + 1,
        last_submission=T0 + timedelta(hours=place),
        interval=(place, place + 1),
        p_first=0.5 if place == 1 else 0.0,
    )
    defaults.update(kw)
    return BoardRow(**defaults)  # type: ignore[arg-type]


def _board(rows: list[BoardRow], **kw: object) -> Board:
    snapshots = tuple(
        RankSnapshot(T0 + timedelta(hours=i), r.team, {x.team: x.place for x in rows[: i + 1]})
        for i, r in enumerate(rows)
    )
    defaults: dict[str, object] = dict(
        phase="final", title="Final phase", rows=tuple(rows), updated_at=T0, history=snapshots,
        n_resamples=1000,
    )  # fmt: skip
    defaults.update(kw)
    return Board(**defaults)  # type: ignore[arg-type]


def _unescaped_pipes(line: str) -> int:
    count, escaped = 0, False
    for ch in line:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "|":
            count += 1
    return count


def _table_lines(markdown: str) -> list[str]:
    return [line for line in markdown.split("\n") if line.startswith("|")]


def _png_text_chunks(png: bytes) -> list[bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, texts = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            texts.append(data)
        elif kind == b"zTXt":
            key, _, rest = data.partition(b"\0")
            texts.append(key + b"\0" + zlib.decompress(rest[1:]))
        elif kind == b"iTXt":
            texts.append(data)
        pos += 12 + length
    return texts


@pytest.fixture
def hostile_board() -> Board:
    rows = [_row(name, i + 1) for i, name in enumerate(HOSTILE)]
    rows.append(_row("Baseline mean embeddings", 3, baseline=True))
    return _board(rows)


# ---- escaping ---------------------------------------------------------------------------------


def test_every_table_row_keeps_its_cells(hostile_board: Board) -> None:
    table = board_table(hostile_board)
    lines = _table_lines(table)
    assert len(lines) == len(hostile_board.rows) + 2  # header, alignment, one line per row
    assert table.count("\n") == len(lines) - 1  # no name produced a line break
    for line in lines:
        assert _unescaped_pipes(line) == N_COLUMNS + 1, line


def test_no_markup_survives_from_names(hostile_board: Board) -> None:
    for line in _table_lines(board_table(hostile_board))[2:]:
        assert "<" not in line and ">" not in line
        assert "](" not in line and "[" not in line.replace("\\[", "")
        assert "`" not in line.replace("\\`", "")
        assert "://" not in line and "www." not in line
        assert not re.search(r"[\x00-\x1f\x7f\u2028\u200b]", line)
        assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f]", line)


def test_readme_markers_cannot_be_injected(hostile_board: Board) -> None:
    readme = readme_with_board(TEMPLATE, hostile_board)
    assert readme.count(END) == 1 and readme.count(BEGIN) == 1
    assert readme.count("<!--") == 4  # global + phase begin/end, nothing from names
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", readme)


def test_long_names_are_truncated_and_emoji_kept() -> None:
    assert markdown_cell("A" * 500) == "A" * 60 + "…"
    assert markdown_cell("🛰️ Orbital 👩‍🚀 team 🇪🇺") == "🛰️ Orbital 👩‍🚀 team 🇪🇺"
    assert markdown_cell("a|b") == "a\\|b"
    assert markdown_cell("a\\|b") == "a\\\\\\|b"
    assert markdown_cell("<b>&amp;") == "&lt;b&gt;&amp;amp\\;"
    assert markdown_cell("\u202eabc\u202c") == "abc"
    assert markdown_cell("a@b.cc") == "a\\@\u2060b\\.cc"  # no e-mail autolink
    assert markdown_cell("\n\t ") == "\\-"  # an empty cell would look like a rendering bug


def test_machine_readable_files_keep_names_intact_but_clean(hostile_board: Board) -> None:
    doc = json.loads(board_json(hostile_board))
    teams = [e["team"] for e in doc["entries"]]
    assert teams[0] == "pipe | in | name"
    assert teams[5] == "two lines and tab"
    assert len(teams[6]) == 500  # JSON is not truncated
    assert all(not re.search("[\n\r\u202e\u2067]", t) for t in teams)
    rows = list(csv.reader(io.StringIO(board_csv(hostile_board).decode())))
    assert len(rows) == len(hostile_board.rows) + 1
    assert all(len(r) == len(rows[0]) for r in rows)
    assert rows[12][1] == '\'=HYPERLINK("http://evil")'  # spreadsheet formula defused


def test_plot_labels_with_mathtext_and_emoji_render(hostile_board: Board) -> None:
    png = rank_evolution_png(hostile_board)
    assert png.startswith(b"\x89PNG")


# ---- structure and places ---------------------------------------------------------------------


def test_baselines_show_a_parenthesised_place_and_no_competing_place() -> None:
    entries = {
        "alpha": {"t1": 30.0, "t2": 20.0},
        "Baseline mean": {"t1": 20.0, "t2": 15.0},
        "beta": {"t1": 10.0, "t2": 10.0},
    }
    lb = rank_entries(entries, ["t1", "t2"])
    info = {
        name: EntryInfo(f"m-{name}", 2, T0, baseline=name.startswith("Baseline"))
        for name in entries
    }
    board = board_from_leaderboard("dev", "Development", lb, info, updated_at=T0)
    assert [(r.team, r.place) for r in board.rows] == [
        ("alpha", 1),
        ("Baseline mean", 2),
        ("beta", 2),
    ]
    lines = _table_lines(board_table(board))
    assert lines[0].startswith("| Rank | Team |") and "Last submission (UTC)" in lines[0]
    assert lines[3].startswith("| (2) | Baseline mean *(baseline)* |")
    assert lines[4].startswith("| 2 | beta |")


def test_interval_and_times_are_formatted() -> None:
    paris = timezone(timedelta(hours=2))
    row = _row("a", 1, interval=(1, 2), last_submission=datetime(2025, 4, 2, 14, 0, tzinfo=paris))
    board = _board([row, _row("b", 2, interval=(2, 2))])
    lines = _table_lines(board_table(board))
    assert "| 1–2 |" in lines[2] and "| 2025-04-02 12:00 |" in lines[2]
    assert "| 2 |" in lines[3]
    section = readme_with_board(TEMPLATE, board)
    assert "_Updated 2025-04-01T08:30:00 UTC._" in section
    assert "Each team's latest public submission counts" in section


def test_naive_timestamps_and_bad_phase_names_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _board([_row("a", 1, last_submission=datetime(2025, 4, 1))])
    with pytest.raises(ValueError, match="phase"):
        _board([_row("a", 1)], phase="../etc")


def test_empty_board_renders_without_a_table() -> None:
    files = board_files(_board([]), TEMPLATE)
    assert "_No scored submissions yet._" in files["README.md"].decode()
    assert json.loads(files["leaderboard/final.json"])["entries"] == []
    assert files["plots/final_rank_evolution.png"].startswith(b"\x89PNG")


def test_rank_history_replays_latest_submission_per_team() -> None:
    tasks = ["t1", "t2"]
    subs = [
        FinishedSubmission("a", T0, {"t1": 10.0, "t2": 10.0}),
        FinishedSubmission("b", T0 + timedelta(hours=1), {"t1": 20.0, "t2": 20.0}),
        FinishedSubmission("base", T0 + timedelta(hours=2), {"t1": 15, "t2": 15}, baseline=True),
        FinishedSubmission("a", T0 + timedelta(hours=3), {"t1": 30.0, "t2": 30.0}),
    ]
    history = rank_history(list(reversed(subs)), tasks)  # input order does not matter
    assert [s.team for s in history] == ["a", "b", "base", "a"]
    assert history[0].places == {"a": 1}
    assert history[1].places == {"b": 1, "a": 2}
    assert history[2].places == {"b": 1, "base": 2, "a": 2}
    assert history[3].places == {"a": 1, "b": 2, "base": 3}


# ---- determinism ------------------------------------------------------------------------------


def test_rendering_is_byte_identical_for_unchanged_content(hostile_board: Board) -> None:
    first = board_files(hostile_board, TEMPLATE)
    again = board_files(hostile_board, TEMPLATE)
    assert first == again
    doc = json.loads(first["leaderboard/final.json"])
    assert list(doc) == sorted(doc)
    assert first["leaderboard/final.json"].endswith(b"\n")
    assert all(
        not chunk.startswith(b"Software")
        for chunk in _png_text_chunks(first["plots/final_rank_evolution.png"])
    )


def test_rendering_matches_the_checked_in_files(hostile_board: Board) -> None:
    assert_matches_expected("hostile_board", board_files(hostile_board, TEMPLATE))


def test_floats_have_a_fixed_format() -> None:
    board = _board([_row("a", 1, mean_q=14.870000000000001, weighted_score=2.3100000004)])
    doc = json.loads(board_json(board))
    assert doc["entries"][0]["mean_q"] == 14.87
    assert doc["entries"][0]["weighted_score"] == 2.31
    rows = list(csv.reader(io.StringIO(board_csv(board).decode())))
    assert rows[1][3:5] == ["14.870000", "2.310000"]


# ---- README markers ---------------------------------------------------------------------------


def test_readme_replacement_is_idempotent_and_keeps_other_phases() -> None:
    readme = readme_from_template(TEMPLATE, "Embed2Scale [2025]")
    assert "Embed2Scale \\[2025\\]" in readme
    dev = _board([_row("a", 1)], phase="dev", title="Development")
    final_v1 = _board([_row("a", 1)], phase="final")
    final_v2 = _board([_row("a", 1), _row("b", 2)], phase="final")
    once = readme_with_board(readme_with_board(readme, dev), final_v1)
    assert readme_with_board(once, final_v1) == once
    updated = readme_with_board(once, final_v2)
    assert readme_with_board(updated, final_v2) == updated
    assert readme_with_board(updated, final_v1) == once
    dev_begin, dev_end = phase_markers("dev")
    dev_section = once[once.index(dev_begin) : once.index(dev_end)]
    assert dev_section in updated
    assert updated.index(dev_begin) < updated.index(phase_markers("final")[0]) < updated.index(END)
    outside = readme.split(BEGIN)[0]
    assert updated.startswith(outside)


def test_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="LEADERBOARD:BEGIN"):
        readme_with_board("# my own readme\n", _board([_row("a", 1)]))


# ---- the leak rule ----------------------------------------------------------------------------


def _secret_board(revealed: bool) -> Board:
    rows = [
        _row("alpha", 1, mean_q=50.0, task_q=SECRET_Q, task_ranks=dict.fromkeys(SECRET_TASKS, 1)),
        _row("beta", 2, mean_q=40.0, task_q={t: q / 2 for t, q in SECRET_Q.items()},
             task_ranks=dict.fromkeys(SECRET_TASKS, 2)),
    ]  # fmt: skip
    return _board(rows, revealed=revealed, tasks=SECRET_TASKS, weights=SECRET_WEIGHTS)


def _secret_strings() -> list[str]:
    numbers = [*SECRET_Q.values(), *(q / 2 for q in SECRET_Q.values()), *SECRET_WEIGHTS.values()]
    formats = [f"{x:.1f}" for x in numbers] + [f"{x:.2f}" for x in numbers]
    formats += [f"{x:.3f}" for x in numbers] + [repr(round(x, 6)) for x in numbers]
    return [*SECRET_TASKS, "zebracorn", "quokka", *formats]


def _site(board: Board, files: dict[str, bytes]) -> dict[str, bytes]:
    """The site files a publication of `board` adds (worker.leaderboard does the same)."""
    return site_files(
        board,
        challenge_title="Leak check",
        data={"json": files[f"leaderboard/{board.phase}.json"],
              "csv": files[f"leaderboard/{board.phase}.csv"]},
    )  # fmt: skip


def test_nothing_per_task_leaves_before_reveal() -> None:
    board = _secret_board(revealed=False)
    files = board_files(board, TEMPLATE)
    assert set(files) == {
        "README.md", "leaderboard/final.json", "leaderboard/final.csv",
        "plots/final_rank_evolution.png",
    }  # fmt: skip
    site = _site(board, files)
    # The stylesheet and script are package files, the same for every board (so they carry no
    # board value); their own numbers (CSS lengths) are left out of the number check below.
    assets = {p: b for p, b in site.items() if p.startswith("docs/assets/")}
    assert assets == site_assets()
    for path, data in assets.items():
        assert not any(name in data.decode() for name in ("zebracorn", "quokka")), path
    files |= {p: b for p, b in site.items() if p not in assets}
    assert {"docs/index.html", "docs/final/index.html", "docs/phases.json"} <= set(files)
    texts = {p: b.decode().replace("<wbr>", "") for p, b in files.items() if not p.endswith(".png")}
    texts["commit message"] = commit_message(board)
    for path, png in files.items():
        if path.endswith(".png"):
            texts[path + " (raw bytes)"] = png.decode("latin-1")
            texts[path + " (text chunks)"] = b"\n".join(_png_text_chunks(png)).decode("latin-1")
    for secret in _secret_strings():
        for path, text in texts.items():
            assert secret not in text, (secret, path)
    with pytest.raises(ValueError, match="not revealed"):
        task_heatmap_png(board)
    # The post-reveal analysis is refused before it reads a single score.
    with pytest.raises(PhaseNotRevealed, match="'final' is not revealed") as refusal:
        phase_analysis(_UntouchableStore(), "final", None, revealed=False)  # type: ignore[arg-type]
    for secret in _secret_strings():
        assert secret not in str(refusal.value)


class _UntouchableStore:
    """A store that fails the test if anything reads it."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the store was read ({name}) for an unrevealed phase")


def test_per_task_detail_appears_once_revealed() -> None:
    files = board_files(_secret_board(revealed=True), TEMPLATE)
    page = _site(_secret_board(revealed=True), files)["docs/final/index.html"].decode()
    assert all(t in page.replace("<wbr>", "") for t in SECRET_TASKS)
    assert '87.7<span class="task-rank"> (1)' in page
    assert "plots/final_task_q.png" in files
    readme = files["README.md"].decode()
    for task in SECRET_TASKS:
        assert markdown_cell(task) in readme
    assert "87.65 (1)" in readme and "0.732" in readme and "plots/final_task_q.png" in readme
    doc = json.loads(files["leaderboard/final.json"])
    assert doc["tasks"] == list(SECRET_TASKS)
    assert doc["weights"][SECRET_TASKS[0]] == 0.7321
    assert doc["entries"][0]["task_q"][SECRET_TASKS[0]] == 87.6543
    header = files["leaderboard/final.csv"].decode().split("\n")[0]
    assert f"q::{SECRET_TASKS[0]}" in header and f"rank::{SECRET_TASKS[1]}" in header
