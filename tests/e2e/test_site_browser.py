"""The leaderboard site in a real headless browser: Debian's Chromium driven by Selenium through
chromedriver, pages served over HTTP on 127.0.0.1. The tests sort and filter as a person would
(clicks, keys, typing) and assert what is shown. Skips when Chromium or chromedriver is absent
(`make test` installs them where it can, see the Makefile).

Screenshots (desktop 1280 px and phone 390 px wide, before and after the reveal) go to
$SITE_SCREENSHOTS when set, else to a temporary folder.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.site_boards import TASKS, synthetic_board
from tests.unit.test_leaderboard_render import HOSTILE, _board, _row
from worker.leaderboard import Board, plain_name, shortened, site_files

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("Chromium and chromedriver are not installed", allow_module_level=True)

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=en-US",
)  # fmt: skip
DESKTOP, PHONE = (1280, 900), (390, 844)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _write(root: Path, board: Board, title: str = "Demo hidden-task embedding challenge") -> None:
    files = site_files(board, challenge_title=title)
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


BOARDS = {
    "hidden": lambda: synthetic_board(revealed=False),
    "revealed": lambda: synthetic_board(revealed=True),
    "hostile": lambda: _board(
        [_row(name, i + 1) for i, name in enumerate(HOSTILE)]
        + [_row('"><img src=x onerror="window.pwned=1">', len(HOSTILE) + 1)]
    ),
}


@pytest.fixture(scope="module")
def boards() -> dict[str, Board]:
    return {name: make() for name, make in BOARDS.items()}


@pytest.fixture(scope="module")
def site(boards: dict[str, Board], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a server on 127.0.0.1 whose /<name>/docs/ holds each board's site."""
    root = tmp_path_factory.mktemp("site")
    for name, board in boards.items():
        _write(root / name, board)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="site-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(browser: WebDriver, url: str, size: tuple[int, int] = DESKTOP) -> None:
    width, height = size
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    browser.get(url)
    browser.find_element(By.ID, "filter")  # present once the page is parsed


def _teams_shown(browser: WebDriver) -> list[str]:
    rows = browser.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
    return [r.find_element(By.CSS_SELECTOR, "th a").text for r in rows if r.is_displayed()]


def _sort_button(browser: WebDriver, label: str):  # noqa: ANN202
    for button in browser.find_elements(By.CSS_SELECTOR, "table.board thead th button"):
        if button.text.startswith(label):
            return button
    raise AssertionError(f"no sort button {label!r}")


def _aria_sort(browser: WebDriver) -> dict[str, str]:
    heads = browser.find_elements(By.CSS_SELECTOR, "table.board thead th")
    return {
        h.text.rstrip("▲▼↕ "): h.get_attribute("aria-sort")
        for h in heads
        if h.get_attribute("aria-sort")
    }


def test_the_table_shows_the_board_in_rank_order(browser, site, boards) -> None:
    _open(browser, f"{site}/hidden/docs/final/")
    board = boards["hidden"]
    assert _teams_shown(browser) == [r.team for r in board.rows]
    first = browser.find_element(By.CSS_SELECTOR, "table.board tbody tr")
    cells = first.find_elements(By.CSS_SELECTOR, "td")
    assert cells[0].text == "1"
    assert cells[2].text == f"{board.rows[0].mean_q:.2f}"
    low, high = board.rows[0].interval
    assert cells[3].text == (str(low) if low == high else f"{low}–{high}")
    assert browser.find_element(By.ID, "filter-status").text == "Showing 12 of 12 entries"
    assert _aria_sort(browser) == {"Rank": "ascending"}


def test_the_index_leads_to_the_phase_and_back(browser, site) -> None:
    browser.get(f"{site}/hidden/docs/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Demo hidden-task embedding challenge"
    link = browser.find_element(By.CSS_SELECTOR, ".phases a")
    assert link.text == "Phase final"
    link.click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Phase final"
    browser.find_element(By.CSS_SELECTOR, ".crumbs a").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Demo hidden-task embedding challenge"


def test_sorting_by_clicks_and_by_keyboard(browser, site, boards) -> None:
    _open(browser, f"{site}/hidden/docs/final/")
    rows = boards["hidden"].rows
    by_q = [r.team for r in sorted(rows, key=lambda r: -r.mean_q)]
    _sort_button(browser, "Mean Q").click()
    assert _teams_shown(browser) == by_q
    assert _aria_sort(browser) == {"Mean Q": "descending"}
    _sort_button(browser, "Mean Q").click()
    assert _teams_shown(browser) == by_q[::-1]
    assert _aria_sort(browser) == {"Mean Q": "ascending"}
    # Keyboard only: Tab from the Mean Q button to the next heading's button, then Enter.
    _sort_button(browser, "Mean Q").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.text.startswith("90") and focused.tag_name == "button"
    _sort_button(browser, "Team").send_keys(Keys.ENTER)
    assert _teams_shown(browser) == sorted((r.team for r in rows), key=str.casefold)
    assert _aria_sort(browser) == {"Team": "ascending"}
    _sort_button(browser, "Submissions").send_keys(Keys.SPACE)
    shown = _teams_shown(browser)
    counts = {r.team: r.submissions for r in rows}
    assert [counts[t] for t in shown] == sorted(counts.values(), reverse=True)
    assert browser.find_element(By.ID, "sort-status").get_attribute("textContent") == (
        "Sorted by Submissions, descending."
    )


def test_filtering_hides_rows_and_dims_the_chart(browser, site) -> None:
    _open(browser, f"{site}/hidden/docs/final/")
    box = browser.find_element(By.ID, "filter")
    box.send_keys("geo")
    assert _teams_shown(browser) == ["GeoSketch"]
    assert browser.find_element(By.ID, "filter-status").text == "Showing 1 of 12 entries"
    dimmed = browser.find_elements(By.CSS_SELECTOR, ".rank-chart .series.dimmed")
    assert len(dimmed) == 11
    histories = browser.find_elements(By.CSS_SELECTOR, ".histories > li")
    assert [h.is_displayed() for h in histories].count(True) == 1
    box.send_keys("zzz")
    assert _teams_shown(browser) == []
    assert browser.find_element(By.ID, "filter-status").text.startswith("No entry matches")
    box.clear()
    box.send_keys("vit-2")  # methods are searched too
    assert len(_teams_shown(browser)) == 4
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    assert len(_teams_shown(browser)) == 12


def test_no_task_is_shown_before_the_reveal_and_all_after(browser, site, boards) -> None:
    _open(browser, f"{site}/hidden/docs/final/")
    source, text = browser.page_source, browser.find_element(By.TAG_NAME, "body").text
    for task in TASKS:
        assert task not in source and task not in text
    assert browser.find_elements(By.CSS_SELECTOR, "table.heatmap") == []

    _open(browser, f"{site}/revealed/docs/final/")
    heads = browser.find_elements(By.CSS_SELECTOR, "table.heatmap thead tr:first-child th")
    assert [h.text for h in heads[2:]] == list(TASKS)
    board = boards["revealed"]
    first = browser.find_element(By.CSS_SELECTOR, "table.heatmap tbody tr")
    cells = first.find_elements(By.CSS_SELECTOR, "td")[1:]
    row = board.rows[0]
    assert [c.text for c in cells] == [f"{row.task_q[t]:.1f} ({row.task_ranks[t]})" for t in TASKS]
    # The filter narrows the heatmap too.
    browser.find_element(By.ID, "filter").send_keys(board.rows[1].team)
    shown = [r for r in browser.find_elements(By.CSS_SELECTOR, "table.heatmap tbody tr")
             if r.is_displayed()]  # fmt: skip
    assert [r.find_element(By.TAG_NAME, "th").text for r in shown] == [board.rows[1].team]


def test_a_team_link_opens_its_history(browser, site, boards) -> None:
    _open(browser, f"{site}/hidden/docs/final/")
    row = boards["hidden"].rows[2]
    history = browser.find_element(By.ID, "team-2")
    assert not history.find_element(By.CSS_SELECTOR, ".steps").is_displayed()
    browser.find_elements(By.CSS_SELECTOR, "table.board tbody th a")[2].click()
    steps = history.find_elements(By.CSS_SELECTOR, ".steps li")
    own = [snap for snap in boards["hidden"].history if snap.team == row.team]
    assert len(steps) == len(own) == row.submissions and all(s.is_displayed() for s in steps)
    assert [s.text for s in steps] == [
        f"{snap.at:%Y-%m-%d %H:%M} UTC: rank {snap.places[row.team]} after this submission"
        for snap in own
    ]
    assert history.find_element(By.CSS_SELECTOR, "summary").text.startswith(
        f"{row.team}: rank {row.place} now"
    )


def test_hostile_names_are_shown_as_text(browser, site, boards) -> None:
    _open(browser, f"{site}/hostile/docs/final/")
    expected = [shortened(plain_name(r.team), 60) for r in boards["hostile"].rows]
    assert _teams_shown(browser) == expected
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.execute_script("return document.scripts.length") == 1
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []


@pytest.mark.parametrize("name", ["revealed", "hostile"])
def test_a_phone_sees_the_page_without_sideways_scrolling(browser, site, name: str) -> None:
    _open(browser, f"{site}/{name}/docs/final/", PHONE)
    page_width = browser.execute_script("return document.documentElement.scrollWidth")
    assert page_width <= PHONE[0]
    # The wide tables scroll inside their own region, which a keyboard can reach.
    wrap = browser.find_element(By.CSS_SELECTOR, "#board .table-wrap")
    assert wrap.get_attribute("tabindex") == "0"
    assert browser.find_element(By.ID, "filter").is_displayed()
    _sort_button(browser, "Team").click()
    assert _aria_sort(browser) == {"Team": "ascending"}


def _full_page_png(browser: WebDriver, size: tuple[int, int]) -> bytes:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": height, "deviceScaleFactor": 1, "mobile": size[0] < 600},
    )
    return browser.get_screenshot_as_png()


@pytest.mark.parametrize(
    ("name", "size"),
    [("hidden", DESKTOP), ("hidden", PHONE), ("revealed", DESKTOP), ("revealed", PHONE),
     ("hostile", PHONE)],
    ids=["hidden-desktop", "hidden-phone", "revealed-desktop", "revealed-phone", "hostile-phone"],
)  # fmt: skip
def test_screenshots(browser, site, tmp_path, name: str, size: tuple[int, int]) -> None:
    _open(browser, f"{site}/{name}/docs/final/", size)
    browser.find_elements(By.CSS_SELECTOR, "table.board tbody th a")[1].click()  # one history open
    png = _full_page_png(browser, size)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == size[0]
    folder = Path(os.environ.get("SITE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    label = "desktop" if size == DESKTOP else "phone"
    (folder / f"site-{name}-{label}.png").write_bytes(png)
