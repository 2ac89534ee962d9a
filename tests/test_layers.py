"""The layer contract (pyproject.toml's [tool.importlinter], docs/architecture.md) holds on the
tree, and the real lint-imports fails a tree with one import that looks up a layer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from support import require

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = "Layers only look down"


def lint_imports() -> str:
    """The lint-imports beside this Python (the dev extra), else the one on PATH."""
    beside = Path(sys.executable).with_name("lint-imports")
    return str(beside) if beside.is_file() else require("lint-imports")


def run_lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports in ``root`` (its pyproject.toml's contract) on ``root``'s src/, first on the
    path (an installed digitlens would be analysed instead)."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([lint_imports(), "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.mark.slow
def test_the_tree_keeps_its_layers() -> None:
    done = run_lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{CONTRACT} KEPT" in done.stdout


@pytest.mark.slow
def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "src" / "digitlens", tmp_path / "src" / "digitlens",
                    ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    engine = tmp_path / "src" / "digitlens" / "nn" / "mlp.py"
    engine.write_text(engine.read_text() + "\nimport digitlens.api  # noqa: E402\n")
    done = run_lint(tmp_path)
    assert done.returncode != 0
    assert f"{CONTRACT} BROKEN" in done.stdout
    assert "digitlens.nn.mlp -> digitlens.api" in done.stdout


def test_the_architecture_picture_is_the_contract() -> None:
    """docs/architecture.md draws the contract's layers, in its order, siblings on one line."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c["layers"] for c in config["contracts"] if c["name"] == CONTRACT)
    picture = (ROOT / "docs" / "architecture.md").read_text().split("```")[1]
    rows = [re.split(r"\s{3,}", line.strip())[0] for line in picture.splitlines()
            if line.strip() and not line.strip().startswith("─")]  # name, then what it is
    drawn = [" | ".join(name.strip() for name in row.split("|")) for row in rows]
    assert drawn == [" | ".join(m.strip().removeprefix("digitlens.") for m in layer.split("|"))
                     for layer in layers]


def test_no_module_imports_itself_round_about() -> None:
    """No cycle among digitlens's modules, counting imports inside functions and those made
    only for type checking (an independent scan sees them all)."""
    import grimp
    graph = grimp.build_graph("digitlens", exclude_type_checking_imports=False)
    cycles = [sorted(c) for c in strongly_connected(
        {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules})
        if len(c) > 1]
    assert cycles == []
    assert [sorted(c) for c in strongly_connected({"a": {"b"}, "b": {"a", "c"}, "c": set()})
            if len(c) > 1] == [["a", "b"]]  # the search finds one when there is one


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iterative (a deep import chain is no problem)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found
