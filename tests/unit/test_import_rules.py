"""The layout's import rules (docs/architecture.md), checked on the syntax tree of every module.

Every `import` and `from … import` counts, also those inside functions and `TYPE_CHECKING`
blocks: a lazy import is still a dependency. Pure: reads the repository's .py files.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("evalai", "store", "leaderboard")  # the worker's rooms
# Packages whose modules are private: import only the names their __init__ exports.
CLOSED_PACKAGES = (*(f"worker.{p}" for p in PACKAGES), "tests.doubles.evalai")
# Modules of the worker that sit below every adapter: they import no other part of the worker
# except one another (and `scoring`).
FLOORS = {"worker.errors", "worker.settings", "worker.source"}
# Who may wire adapters together (the composition root), and who may read the environment.
COMPOSITION_ROOT = {"worker.bootstrap"}
ENVIRONMENT_READERS = {"worker.__main__", "worker.cli"}
# Layers above the adapters: no adapter (package or inbox) imports them.
ABOVE_ADAPTERS = {"worker.pipeline", "worker.loop", "worker.bootstrap", "worker.cli",
                  "worker.__main__", "worker.doctor"}  # fmt: skip
ADAPTERS = ("worker.evalai", "worker.store", "worker.leaderboard", "worker.inbox")
# The rooms may import one another only along these edges.
ALLOWED_BETWEEN_ROOMS = {("worker.leaderboard", "worker.store")}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # dotted; for `from x import y`: x, and also x.y when y is a module
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files() -> Iterator[Path]:
    for top in ("scoring", "worker", "synthetic", "demo", "bench", "tests"):
        yield from sorted((ROOT / top).rglob("*.py"))


def imports_of(path: Path, name: str | None = None) -> Iterator[Import]:
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield Import(name, base, node.lineno)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if _is_module(candidate):
                    yield Import(name, candidate, node.lineno)


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


ALL_IMPORTS = [imp for path in python_files() for imp in imports_of(path)]


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def shown(found: list[Import]) -> str:
    return "\n".join(f"{i.module}:{i.line} imports {i.target}" for i in found)


def test_the_walk_sees_the_whole_worker() -> None:
    """Guards the test itself: the rules below are only as good as the imports they see."""
    modules = {i.module for i in ALL_IMPORTS}
    assert {"worker.pipeline", "worker.evalai.client", "worker.store.sql_store",
            "worker.leaderboard.board", "scoring.engine"} <= modules  # fmt: skip
    assert any(i.target == "worker.store.schema" for i in ALL_IMPORTS)


def scoring_importing_worker(imports: list[Import]) -> list[Import]:
    return [i for i in imports if within(i.module, "scoring") and within(i.target, "worker")]


def private_imports(imports: list[Import], room: str) -> list[Import]:
    return [
        i for i in imports
        if within(i.target, room) and i.target != room and not within(i.module, room)
    ]  # fmt: skip


def adapters_importing_upwards(imports: list[Import]) -> list[Import]:
    return [
        i for i in imports
        if any(within(i.module, a) for a in ADAPTERS)
        and any(within(i.target, above) for above in ABOVE_ADAPTERS)
    ]  # fmt: skip


def imports_between_rooms(imports: list[Import]) -> list[Import]:
    rooms = [f"worker.{p}" for p in PACKAGES]
    return [
        i for i in imports
        for src in rooms for dst in rooms
        if src != dst and within(i.module, src) and within(i.target, dst)
        and (src, dst) not in ALLOWED_BETWEEN_ROOMS
    ]  # fmt: skip


def floors_importing_upwards(imports: list[Import]) -> list[Import]:
    return [
        i for i in imports
        if i.module in FLOORS and within(i.target, "worker")
        and i.target not in FLOORS and i.target != "worker"
    ]  # fmt: skip


def test_scoring_never_imports_the_worker() -> None:
    found = scoring_importing_worker(ALL_IMPORTS)
    assert not found, shown(found)


@pytest.mark.parametrize("package", CLOSED_PACKAGES)
def test_nobody_imports_a_packages_private_modules_from_outside(package: str) -> None:
    found = private_imports(ALL_IMPORTS, package)
    assert not found, f"import these names from {package} instead:\n{shown(found)}"


def test_adapters_never_import_the_pipeline_or_anything_above_it() -> None:
    found = adapters_importing_upwards(ALL_IMPORTS)
    assert not found, shown(found)


def test_rooms_import_one_another_only_where_allowed() -> None:
    found = imports_between_rooms(ALL_IMPORTS)
    assert not found, shown(found)


def test_the_floors_import_nothing_above_them() -> None:
    found = floors_importing_upwards(ALL_IMPORTS)
    assert not found, shown(found)


def _constructor_calls(path: Path, names: set[str]) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called in names:
                yield called, node.lineno


def test_only_the_composition_root_wires_the_parts() -> None:
    """Sources, the pipeline and the loop are built in one place; everything else receives them."""
    wired = {"EvalAISource", "InboxSource", "SubmissionPipeline", "Worker", "SqlScoreStore",
             "EvalAIClient"}  # fmt: skip
    found = [
        f"{module_name(path)}:{line} builds {called}"
        for path in sorted((ROOT / "worker").rglob("*.py"))
        if module_name(path) not in COMPOSITION_ROOT
        for called, line in _constructor_calls(path, wired)
    ]
    assert not found, "\n".join(found)


def _environment_reads(path: Path) -> Iterator[int]:
    """`os.getenv(...)`, `os.environ[...]`, `os.environ.get(...)`: reading a setting. Handing the
    whole environment on to a child process (`{**os.environ, ...}`) is not a read."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "getenv":
            yield node.lineno
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            yield node.lineno
        elif isinstance(node, ast.Attribute) and _is_environ(node.value) and node.attr in (
            "get", "setdefault", "pop", "__getitem__",
        ):  # fmt: skip
            yield node.lineno


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def test_only_the_entry_points_read_the_environment() -> None:
    found = [
        f"{module_name(path)}:{line}"
        for top in ("worker", "scoring")
        for path in sorted((ROOT / top).rglob("*.py"))
        if module_name(path) not in ENVIRONMENT_READERS
        for line in _environment_reads(path)
    ]
    assert not found, "reads the environment:\n" + "\n".join(found)


def test_the_rules_catch_violations(tmp_path: Path) -> None:
    """Each rule flags a module that breaks it, so the checks above are not vacuous."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\n"
        "from worker.pipeline import SubmissionPipeline\n"
        "def later():\n"
        "    from worker.store.schema import submissions\n"
        "    from worker.leaderboard import Board\n"
        "    from worker.evalai import client\n"
        "TOKEN = os.environ.get('X') or os.getenv('Y') or os.environ['Z']\n"
        "ok = {**os.environ, 'A': '1'}\n"
        "store = SqlScoreStore('sqlite://')\n"
    )

    def as_module(name: str) -> list[Import]:
        return list(imports_of(probe, name))

    room = as_module("worker.evalai.probe")
    assert {i.target for i in room} >= {"worker.pipeline", "worker.store.schema",
                                        "worker.leaderboard", "worker.evalai.client"}  # fmt: skip
    assert [i.target for i in adapters_importing_upwards(room)] == ["worker.pipeline"]
    assert {i.target for i in imports_between_rooms(room)} == {
        "worker.store.schema", "worker.leaderboard"
    }
    assert private_imports(room, "worker.evalai") == []  # inside its own room
    assert [i.target for i in private_imports(room, "worker.store")] == ["worker.store.schema"]
    outside = as_module("worker.loop")
    assert [i.target for i in private_imports(outside, "worker.evalai")] == [
        "worker.evalai.client"
    ]
    assert sorted({i.line for i in scoring_importing_worker(as_module("scoring.probe"))}) == [
        2, 4, 5, 6
    ]
    assert {i.target for i in floors_importing_upwards(as_module("worker.settings"))} >= {
        "worker.pipeline", "worker.store.schema"
    }
    assert list(_environment_reads(probe)) == [7, 7, 7]
    assert list(_constructor_calls(probe, {"SqlScoreStore"})) == [("SqlScoreStore", 9)]


@pytest.mark.parametrize("package", CLOSED_PACKAGES)
def test_each_package_names_its_role_and_every_module(package: str) -> None:
    """A package's docstring is its map: every module in it is named there."""
    folder = ROOT.joinpath(*package.split("."))
    doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
    assert "Public names" in doc, f"{package}/__init__.py: say what the package exports"
    missing = [p.stem for p in sorted(folder.glob("*.py"))
               if p.stem != "__init__" and not re.search(rf"\b{p.stem}\b", doc)]  # fmt: skip
    assert not missing, f"{package}/__init__.py docstring does not name: {', '.join(missing)}"


def test_every_worker_module_says_what_it_is() -> None:
    bare = [module_name(p) for p in sorted((ROOT / "worker").rglob("*.py"))
            if not ast.get_docstring(ast.parse(p.read_text()))]  # fmt: skip
    assert not bare, f"modules without a docstring: {', '.join(bare)}"
