"""Operator slips are start-up errors: exit 2 with one `error: FILE: problem` line each, never a
traceback. The challenge YAML's encoding, depth, aliases and syntax (worker.config_file), tokens
an HTTP header cannot carry and other values (worker.settings), through `worker.cli.main`.

Pure apart from files under tmp_path; `main` runs in-process on commands that stop before any
network or database (the settings are refused first)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import yaml

from scoring.config import ConfigError
from worker.cli import main
from worker.config_file import MAX_DEPTH, parse_challenge_yaml, read_challenge_yaml
from worker.settings import settings_from, token_problem

TOKEN = "0123456789abcdef0123456789abcdef01234567"


def problems_of(data: bytes) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_challenge_yaml(data, "challenge.yaml")
    return caught.value.problems


# ---------------------------------------------------------------- the YAML file
def test_a_file_that_is_not_utf8_names_the_byte_and_its_line_and_column():
    latin1 = "title: ok\nphases:\n  dev: {annotations: caf\xe9}\n".encode("latin-1")
    (problem,) = problems_of(latin1)
    assert problem == "not UTF-8 text: byte 0xe9 at line 3, column 25; save the file as UTF-8"


def test_a_utf16_file_is_named_as_such():
    (problem,) = problems_of("title: ok\n".encode("utf-16"))
    assert problem == "the file is UTF-16 text, not UTF-8: save it as UTF-8"


def test_a_utf8_byte_order_mark_is_fine():
    assert parse_challenge_yaml(b"\xef\xbb\xbftitle: ok\n") == {"title": "ok"}


@pytest.mark.parametrize("style", ["flow", "block", "flow-100k"])
def test_5000_levels_are_refused_before_the_recursive_composer(style: str):
    if style == "flow":
        data = b"phases: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    elif style == "flow-100k":
        data = b"{a: " * 100_000 + b"1" + b"}" * 100_000
    else:
        data = "".join("  " * i + f"k{i}:\n" for i in range(5000)).encode()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below what composing 5,000 levels would need
    try:
        (problem,) = problems_of(data)
    finally:
        sys.setrecursionlimit(limit)
    assert problem.startswith(f"nested more than {MAX_DEPTH} levels deep at line ")
    assert "(is this the right file?)" in problem


def test_depth_through_an_alias_counts():
    nested = "[" * 40 + "]" * 40
    data = f"a: &deep {nested}\nb: {'[' * 30}*deep{']' * 30}\n".encode()
    (problem,) = problems_of(data)
    assert problem.startswith(f"nested more than {MAX_DEPTH} levels deep at line 2")


def test_alias_loops_and_alias_bombs_are_refused():
    (loop,) = problems_of(b"phases: &p {dev: *p}\n")
    assert loop == "the alias *p at line 1 refers to a value that contains it (a loop)"
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        bomb.append(f"{level}: &{level} [{', '.join([f'*{previous}'] * 10)}]")
    (expanded,) = problems_of("\n".join(bomb).encode())
    assert expanded.startswith("more than 100,000 values once its aliases (*name) are expanded")


def test_ordinary_anchors_still_work():
    data = b"probe: &p {k_folds: 3}\nphases:\n  dev: {annotations: a, probe: *p}\n"
    assert parse_challenge_yaml(data)["phases"]["dev"]["probe"] == {"k_folds": 3}


@pytest.mark.parametrize(("data", "expected"), [
    (b"phases:\n  dev: [1, 2\n", "not valid YAML at line 3, column 1: while parsing a flow "
     "sequence, expected ',' or ']', but got '<stream end>'"),
    (b"a: 1\n---\nb: 2\n", "not valid YAML at line 2, column 1: expected a single document in "
     "the stream, but found another document"),
    (b"title: \x00x\n", "not valid YAML: character #x0000 at line 1, column 8 is not allowed "
     "in YAML (a control character?)"),
    (b"a: *nowhere\n", "not valid YAML at line 1, column 4: found undefined alias 'nowhere'"),
    (b"a: !!python/object:os.system x\n", "not valid YAML at line 1, column 4: could not "
     "determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"),
])
def test_syntax_errors_are_one_line_with_where(data: bytes, expected: str):
    assert problems_of(data) == [expected]


def test_a_syntax_error_never_quotes_the_file():
    (problem,) = problems_of(b"database_url: postgresql://neuco:s3cret@db/x\nphases: [\n")
    assert "s3cret" not in problem


def test_reading_the_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="file not found"):
        read_challenge_yaml(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="is a folder, not a YAML file"):
        read_challenge_yaml(tmp_path)
    (tmp_path / "empty.yaml").write_bytes(b"")
    assert read_challenge_yaml(tmp_path / "empty.yaml") == {}


# ---------------------------------------------------------------- tokens and other values
@pytest.mark.parametrize(("token", "kind", "position"), [
    (TOKEN[:10] + "é" + TOKEN[11:], "a non-ASCII character", 11),
    (TOKEN[:20] + " " + TOKEN[21:], "a space or line break", 21),
    (TOKEN[:39] + "\x07", "a control character", 40),
    (TOKEN + "\u200b", "a non-ASCII character", 41),  # a zero-width space pasted along
])
def test_a_token_that_cannot_go_into_a_header_is_refused_without_saying_it(token, kind,
                                                                             position):
    problem = token_problem("AUTH_TOKEN", token, "copy it again")
    assert problem == (f"AUTH_TOKEN has {kind} at character {position} of {len(token.strip())}, "
                       "which cannot be sent in an HTTP header: copy it again into the env file")
    assert TOKEN[:8] not in problem and TOKEN[-8:] not in problem


def test_quotes_around_a_token_are_refused_and_surrounding_spaces_are_not():
    assert "wrapped in quotes" in token_problem("AUTH_TOKEN", f'"{TOKEN}"', "")
    assert "wrapped in quotes" in token_problem("AUTH_TOKEN", f"'{TOKEN}'", "")
    assert token_problem("AUTH_TOKEN", f"  {TOKEN}\n", "") is None


def evalai_env(token: str = TOKEN) -> dict[str, str]:
    return {"AUTH_TOKEN": token, "API_SERVER": "http://127.0.0.1:9", "QUEUE_NAME": "q",
            "CHALLENGE_PK": "1"}


def settings_problems(raw: dict, env: dict[str, str], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_from(raw, env, tmp_path)
    return caught.value.problems


def test_settings_check_both_tokens(tmp_path: Path):
    raw = {"source": "evalai", "phases": {"dev": {"annotations": "labels"}},
           "leaderboard": {"publisher": "github", "repository": "org/board"}}
    env = evalai_env("tök" + TOKEN) | {"GITHUB_TOKEN": "ghp_abc def"}
    problems = settings_problems(raw, env, tmp_path)
    assert [p.split(" has ")[0] for p in problems] == ["GITHUB_TOKEN", "AUTH_TOKEN"]


def test_database_urls_and_nul_characters_are_start_up_errors(tmp_path: Path):
    raw = {"phases": {"dev": {"annotations": "lab\0els"}},
           "database_url": "mysql://root:s3cret@db/x"}
    problems = settings_problems(raw, {}, tmp_path)
    assert problems == [
        "database_url must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB, got a URL "
        "starting with 'mysql:'",
        "phases.dev.annotations contains a NUL character; no file can be named that",
    ]
    assert settings_problems({"phases": {"dev": {"annotations": "x"}}, "database_url": 5}, {},
                             tmp_path)[0].endswith("got 5")


# ---------------------------------------------------------------- through the command line
def run_cli(args: list[str], env: dict[str, str],
            capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(args, env={"LOG_LEVEL": "WARNING", **env}, out=io.StringIO())
    return code, capsys.readouterr().err.splitlines()


def write_config(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "challenge.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("command", ["run", "once", "doctor", "status", "reconcile", "refresh"])
def test_every_command_exits_2_with_one_line_for_a_bad_token(tmp_path: Path, command: str,
                                                              capsys):
    labels = tmp_path / "labels"
    config = write_config(tmp_path, yaml.safe_dump({
        "source": "evalai", "data_dir": str(tmp_path / "var"),
        "phases": {"dev": {"annotations": str(labels)}},
        "leaderboard": {"enabled": False, "publisher": "none"}}))
    token = TOKEN[:12] + "ü" + TOKEN[13:]
    code, lines = run_cli([command, "--config", str(config)], evalai_env(token), capsys)
    assert code == 2
    assert lines == [f"error: {config}: AUTH_TOKEN has a non-ASCII character at character 13 "
                     "of 40, which cannot be sent in an HTTP header: copy the host token again "
                     "from your EvalAI profile page into the env file"]
    assert not (tmp_path / "var").exists()  # refused before anything was opened


@pytest.mark.parametrize(("content", "start"), [
    (b"phases: " + b"[" * 5000 + b"]" * 5000, "nested more than 64 levels deep at line 1"),
    ("title: Défi\n".encode("cp1252"), "not UTF-8 text: byte 0xe9 at line 1, column 9"),
    (b"phases:\n  dev: {annotations: x\n", "not valid YAML at line 3, column 1"),
])
def test_a_bad_yaml_exits_2_with_one_line(tmp_path: Path, content: bytes, start: str, capsys):
    config = write_config(tmp_path, content)
    for command in ("once", "doctor"):
        code, lines = run_cli([command, "--config", str(config)], {}, capsys)
        assert code == 2
        (line,) = lines
        assert line.startswith(f"error: {config}: {start}"), line


@pytest.mark.parametrize("command", ["once", "doctor", "status"])
def test_a_data_dir_that_cannot_be_a_folder_exits_2_with_one_line(tmp_path: Path, command: str,
                                                                  capsys):
    in_the_way = tmp_path / "var"
    in_the_way.write_text("not a folder")
    labels = tmp_path / "labels"
    labels.mkdir()
    config = write_config(tmp_path, yaml.safe_dump({
        "source": "inbox", "data_dir": str(in_the_way), "inbox_dir": str(tmp_path / "inbox"),
        "phases": {"dev": {"annotations": str(labels)}},
        "leaderboard": {"enabled": False, "publisher": "none"}}))
    code, lines = run_cli([command, "--config", str(config)], {}, capsys)
    assert code == 2
    assert lines == [f"error: data_dir: '{in_the_way}' cannot be created as a folder (a file is "
                     "in the way); point data_dir at a folder this user may write"]
    assert in_the_way.read_text() == "not a folder"
