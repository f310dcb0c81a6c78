"""The static leaderboard site as files: structure, escaping, determinism, the phase index."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from tests.site_boards import TASKS, synthetic_board
from worker.leaderboard import (
    Board,
    SitePhase,
    SitePicture,
    analysis_pictures,
    board_json,
    plain_name,
    published_phases,
    shortened,
    site_files,
)

from .test_leaderboard_render import HOSTILE, _board, _row


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each row heading of the board."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.row_heads: list[str] = []
        self._in_row_head = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "th" and dict(attrs).get("scope") == "row" and "data-value" in dict(attrs):
            self._in_row_head = 1
            self.row_heads.append("")
        elif self._in_row_head and tag in ("span",):
            self._in_row_head += 1

    def handle_endtag(self, tag: str) -> None:
        if self._in_row_head and tag == "span":
            self._in_row_head -= 1
        elif self._in_row_head and tag == "th":
            self._in_row_head = 0

    def handle_data(self, data: str) -> None:
        if self._in_row_head == 1:
            self.row_heads[-1] += data


def _files(board: Board, **kw: object) -> dict[str, bytes]:
    return site_files(board, challenge_title="Demo <challenge>", **kw)  # type: ignore[arg-type]


def _page(files: dict[str, bytes], phase: str = "final") -> str:
    return files[f"docs/{phase}/index.html"].decode()


def test_site_files_of_a_phase() -> None:
    board = synthetic_board(revealed=False)
    files = _files(board)
    assert set(files) == {
        "docs/.nojekyll", "docs/index.html", "docs/phases.json", "docs/assets/site.css",
        "docs/assets/site.js", "docs/final/index.html", "docs/final/board.json",
        "docs/final/board.csv",
    }  # fmt: skip
    assert files["docs/final/board.json"] == board_json(board)
    page = _page(files)
    parsed = Elements()
    parsed.feed(page)
    rows = [a for t, a in parsed.tags if t == "tr" and "data-search" in a]
    assert len(rows) == len(board.rows) == 12
    headers = [a for t, a in parsed.tags if t == "th" and a.get("scope") == "col"]
    assert len(headers) >= 7 and all("data-sort" in h for h in headers[:7])
    assert [a.get("aria-sort") for a in headers[:7]] == ["ascending"] + [None] * 6
    assert parsed.row_heads[:3] == [r.team for r in board.rows[:3]]
    assert "baseline" in page and "Rank evolution" in page and "Team histories" in page


def test_hostile_names_stay_text() -> None:
    rows = [_row(name, i + 1) for i, name in enumerate(HOSTILE)]
    rows.append(_row('"><img src=x onerror=alert(1)>', len(HOSTILE) + 1, method="<b>m</b>"))
    board = _board(rows)
    files = _files(board)
    for path in ("docs/final/index.html", "docs/index.html"):
        parsed = Elements()
        parsed.feed(files[path].decode())
        tags = [t for t, _ in parsed.tags]
        assert tags.count("script") == 1, path  # ours only
        assert "img" not in tags and "b" not in tags, path
        assert not any(k.startswith("on") for _, a in parsed.tags for k in a), path
    parsed = Elements()
    parsed.feed(_page(files))
    expected = [shortened(plain_name(r.team), 60) or "–" for r in board.rows]
    assert parsed.row_heads == expected
    assert len([1 for t, a in parsed.tags if t == "tr" and "data-search" in a]) == len(rows)
    page = _page(files)
    assert "\u202e" not in page and "\x1b" not in page and "\u2067" not in page
    assert "<!-- LEADERBOARD" not in page


def test_rendering_is_byte_identical() -> None:
    assert _files(synthetic_board(revealed=True)) == _files(synthetic_board(revealed=True))


def test_nothing_per_task_in_the_site_before_reveal() -> None:
    hidden = _files(synthetic_board(revealed=False))
    # <wbr> (a line-break opportunity in long task names) must not hide a name from the check
    text = "\n".join(b.decode() for b in hidden.values()).replace("<wbr>", "")
    for task in TASKS:
        assert task not in text
    assert "Hidden tasks" not in text
    shown = _files(synthetic_board(revealed=True))
    page = _page(shown).replace("<wbr>", "")
    assert all(task in page for task in TASKS) and "Task weight" in page


def test_pictures_only_for_revealed_phases_with_safe_names() -> None:
    picture = SitePicture("capability_map.png", "Capability map", b"\x89PNG fake")
    with pytest.raises(ValueError, match="not revealed"):
        _files(synthetic_board(revealed=False), pictures=[picture])
    with pytest.raises(ValueError, match="file names"):
        _files(synthetic_board(revealed=True), pictures=[SitePicture("../x.png", "x", b"")])
    files = _files(synthetic_board(revealed=True), pictures=[picture])
    assert files["docs/final/capability_map.png"] == b"\x89PNG fake"
    assert 'src="capability_map.png" alt="Capability map"' in _page(files)
    # A later publication without the pictures still links the ones already published.
    later = _files(
        synthetic_board(revealed=True), published=published_phases(files["docs/phases.json"])
    )
    assert "docs/final/capability_map.png" not in later
    assert 'src="capability_map.png" alt="Capability map"' in _page(later)


def test_the_analysis_pictures_of_the_phase_become_captioned_figures() -> None:
    files = {
        "analysis/final/capability_map.png": b"\x89PNG map",
        "analysis/final/rank_blobs.png": b"\x89PNG blobs",
        "analysis/final/new_view.png": b"\x89PNG new",
        "analysis/final/report.md": b"# report",
        "analysis/dev/capability_map.png": b"\x89PNG other phase",
    }
    pictures = analysis_pictures(files, "final")
    assert [(p.file_name, p.data) for p in pictures] == [
        ("capability_map.png", b"\x89PNG map"), ("new_view.png", b"\x89PNG new"),
        ("rank_blobs.png", b"\x89PNG blobs"),
    ]  # fmt: skip
    page = _page(_files(synthetic_board(revealed=True), pictures=pictures))
    assert page.count("<figure><a href=") == 3 and 'alt="New view"' in page
    assert "Capability map: entries and tasks" in page


def test_the_index_keeps_earlier_phases_in_order() -> None:
    old = SitePhase("dev", "Phase dev", 4, "2026-01-01T00:00:00Z", False)
    stale = SitePhase("final", "Phase final", 1, "2026-01-02T00:00:00Z", False)
    board = synthetic_board(revealed=False)
    files = _files(board, published=[old, stale])
    listed = published_phases(files["docs/phases.json"])
    assert [(p.phase, p.entries) for p in listed] == [("dev", 4), ("final", 12)]
    assert listed[0] == old and listed[1].updated == "2026-03-07T04:00:00Z"
    assert published_phases(b"not json") == [] and published_phases(None) == []
    assert published_phases(b'{"phases": [{"phase": "../x"}]}') == []
    index = _files(board, published=[old])["docs/index.html"].decode()
    assert index.index('href="dev/index.html"') < index.index('href="final/index.html"')
    assert "4 entries" in index and "12 entries" in index


def _luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb (the test's own formula)."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_heatmap_cells_keep_aa_text_contrast() -> None:
    page = _page(_files(synthetic_board(revealed=True)))
    cells = re.findall(r'style="background:(#[0-9a-f]{6});color:(#[0-9a-f]{6})"', page)
    assert len(cells) == 12 * len(TASKS)
    assert len({background for background, _ in cells}) > 50  # the colour scale is used
    for background, text in cells:
        light, dark = sorted((_luminance(background), _luminance(text)), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, (background, text)


def test_an_empty_board_renders() -> None:
    board = Board(
        phase="dev", title="Phase dev", rows=(), updated_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    page = _page(_files(board), "dev")
    assert "No scored submissions yet." in page and "<table" not in page
