"""The static leaderboard site under `docs/` of the leaderboard repository. Pure: returns bytes.

GitHub Pages serves the folder as it is ("Deploy from a branch", folder `/docs`); nothing is
built and nothing is loaded from elsewhere when someone views it:

    docs/.nojekyll                     serve files as they are (no Jekyll pass)
    docs/index.html                    the challenge and its published phases
    docs/phases.json                   that list as data, merged on every publication
    docs/assets/site.css, site.js      style; sorting and filtering (plain JavaScript)
    docs/<phase>/index.html            table, rank evolution, team histories; after the reveal
                                       the per-task heatmap and the analysis pictures
    docs/<phase>/board.json, .csv      the same bytes as leaderboard/<phase>.json / .csv
    docs/<phase>/<picture>.png         analysis pictures (revealed phases only; listed in
                                       phases.json, so later publications keep linking them)

`site_files` renders one phase (the one being published) plus the index, from the same `Board`
the README, JSON, CSV and PNGs come from: no value is computed twice. The index lists the phases
of the published `docs/phases.json` (read by the caller) plus this one, in first-published order.
Deterministic like the other files (no clock), so an unchanged board commits nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources

from worker.leaderboard.render import board_csv, board_json, entry_policy
from worker.leaderboard.site_pages import SitePhase, SitePicture, index_page, phase_page
from worker.leaderboard.values import Board, utc

SITE_DIR = "docs"
PHASES_PATH = f"{SITE_DIR}/phases.json"
ASSETS = ("site.css", "site.js")
_PICTURE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.png$")


def site_phase_dir(phase: str) -> str:
    return f"{SITE_DIR}/{phase}"


def published_phases(document: bytes | None) -> list[SitePhase]:
    """The phases listed in a published `docs/phases.json`; an unreadable file lists none (it
    is rewritten from the boards as they are published again)."""
    if document is None:
        return []
    try:
        listed = json.loads(document)["phases"]
        phases = [
            SitePhase(
                phase=str(p["phase"]),
                title=str(p["title"]),
                entries=int(p["entries"]),
                updated=str(p["updated"]),
                revealed=bool(p["revealed"]),
                pictures=tuple(
                    (str(name), str(title))
                    for name, title in p.get("pictures", [])
                    if _PICTURE_NAME.match(str(name))
                ),
            )
            for p in listed
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    return [p for p in phases if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", p.phase)]


def merged_phases(
    published: Sequence[SitePhase], board: Board, pictures: Sequence[SitePicture] = ()
) -> list[SitePhase]:
    """The published list with this board's phase added or updated in place. The phase keeps
    the pictures published with it earlier unless new ones are given (their files stay in the
    repository, so later publications link them without being handed them again)."""
    before = next((p for p in published if p.phase == board.phase), None)
    links = tuple((p.file_name, p.title) for p in pictures)
    if not links and before is not None and board.revealed:
        links = before.pictures
    current = SitePhase(
        phase=board.phase,
        title=board.title,
        entries=len(board.rows),
        updated=utc(board.updated_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        revealed=board.revealed,
        pictures=links,
    )
    phases = [current if p.phase == board.phase else p for p in published]
    return phases if any(p.phase == board.phase for p in phases) else [*phases, current]


def phases_json(phases: Sequence[SitePhase]) -> bytes:
    doc = {
        "schema_version": 1,
        "phases": [
            {"phase": p.phase, "title": p.title, "entries": p.entries, "updated": p.updated,
             "revealed": p.revealed, "pictures": [list(link) for link in p.pictures]}
            for p in phases
        ],
    }  # fmt: skip
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def site_assets() -> dict[str, bytes]:
    """The stylesheet and the script (package data: `worker/leaderboard/site_assets/`)."""
    folder = resources.files("worker.leaderboard").joinpath("site_assets")
    return {f"{SITE_DIR}/assets/{name}": folder.joinpath(name).read_bytes() for name in ASSETS}


# Captions for the post-reveal analysis' pictures (`analysis/<phase>/*.png` in the repository);
# a picture not listed here is captioned from its file name.
ANALYSIS_TITLES = {
    "capability_map.png": "Capability map: entries and tasks in one space (closer = smaller gap)",
    "capability_fit.png": "Capability map: held-out error by dimension",
    "rank_blobs.png": "Rank stability: each entry's bootstrap rank distribution",
    "rank_tau.png": "Rank stability: Kendall's tau between the board and its resamples",
    "task_agreement.png": "How the tasks agree on the order of the entries",
}


def analysis_pictures(files: Mapping[str, bytes], phase: str) -> list[SitePicture]:
    """The PNGs under `analysis/<phase>/` of a set of repository files, as site pictures (the
    hook for the post-reveal analysis: pass them to `site_files(pictures=...)`)."""
    prefix = f"analysis/{phase}/"
    pictures = []
    for path in sorted(files):
        name = path.removeprefix(prefix)
        if path.startswith(prefix) and _PICTURE_NAME.match(name):
            title = ANALYSIS_TITLES.get(
                name, name.removesuffix(".png").replace("_", " ").capitalize()
            )
            pictures.append(SitePicture(name, title, files[path]))
    return pictures


def site_files(
    board: Board,
    *,
    challenge_title: str,
    data: Mapping[str, bytes] | None = None,
    published: Sequence[SitePhase] = (),
    pictures: Sequence[SitePicture] = (),
) -> dict[str, bytes]:
    """Every site file this publication writes: the phase's page, its data copies (`data`:
    {"json": ..., "csv": ...} as already rendered for leaderboard/, else rendered here), its
    pictures when revealed, the index and the assets.

    Pictures of an unrevealed phase are refused (the analysis is per-task: the leak rule).
    """
    if pictures and not board.revealed:
        raise ValueError(f"phase {board.phase!r} is not revealed: its pictures must not leave")
    for picture in pictures:
        if not _PICTURE_NAME.match(picture.file_name):
            raise ValueError(
                f"picture file names must match {_PICTURE_NAME.pattern}, got {picture.file_name!r}"
            )
    data = data or {"json": board_json(board), "csv": board_csv(board)}
    folder = site_phase_dir(board.phase)
    phases = merged_phases(published, board, pictures)
    links = next(p.pictures for p in phases if p.phase == board.phase)
    files = {
        f"{SITE_DIR}/.nojekyll": b"GitHub Pages: serve these files as they are (no Jekyll).\n",
        f"{SITE_DIR}/index.html": index_page(challenge_title, phases).encode(),
        PHASES_PATH: phases_json(phases),
        f"{folder}/index.html": phase_page(
            board, challenge_title, entry_policy(board), links
        ).encode(),
        f"{folder}/board.json": data["json"],
        f"{folder}/board.csv": data["csv"],
        **site_assets(),
    }
    files.update({f"{folder}/{p.file_name}": p.data for p in pictures})
    return files


__all__ = [
    "ANALYSIS_TITLES",
    "PHASES_PATH",
    "SITE_DIR",
    "SitePhase",
    "SitePicture",
    "analysis_pictures",
    "merged_phases",
    "phases_json",
    "published_phases",
    "site_assets",
    "site_files",
    "site_phase_dir",
]
