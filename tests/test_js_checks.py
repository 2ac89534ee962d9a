"""The front-end's checks of ``make check``: eslint (eslint.config.js) and tsc over the
JSDoc-typed ES modules (tsconfig.json: checkJs, noEmit) pass over the explorer's modules, the
classroom's pages and the notebook widgets' scripts, and each catches what it is there for."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "node_modules" / ".bin"
PROBE = "src/digitlens/web/static/js/probe.js"  # a page module's path: the page's rules apply


def tool(name: str) -> Path:
    """node_modules/.bin/NAME (installed by `npm ci` from package-lock.json); skip without it
    or without node, but fail in CI (DIGITLENS_REQUIRE_E2E)."""
    path = BIN / name
    if shutil.which("node") is None or not path.exists():
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail(f"{path} or node is missing: run `npm ci` (make check does)")
        pytest.skip(f"{name} not installed (npm ci)")
    return path


def run(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=300, check=False)


def test_eslint_passes() -> None:
    r = run(tool("eslint"), ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_tsc_passes() -> None:
    r = run(tool("tsc"), "-p", "tsconfig.json")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(("code", "rule"), [
    ("export function f() { return missing + 1; }\n", "no-undef"),
    ("export function f(a) { const unused = 2; return a; }\n", "no-unused-vars"),
    ("export function f(a) { return a == 1; }\n", "eqeqeq"),
])
def test_eslint_catches(code: str, rule: str) -> None:
    """A page module with an undefined name (or an unused one, or ==) fails the lint."""
    r = run(tool("eslint"), "--format", "json", "--stdin", "--stdin-filename", PROBE, stdin=code)
    assert r.returncode == 1, r.stdout + r.stderr
    assert rule in {m["ruleId"] for m in json.loads(r.stdout)[0]["messages"]}


def test_tsc_catches(tmp_path: Path) -> None:
    """The project's tsconfig over a module that calls a page module wrongly fails the check."""
    (tmp_path / "probe.js").write_text(
        f'import {{ loadNetwork }} from "{ROOT / "src/digitlens/web/static/js/engine.js"}";\n'
        "export const n = loadNetwork(1, 2, 3).sizez;\n", encoding="utf-8")
    (tmp_path / "tsconfig.json").write_text(json.dumps(
        {"extends": str(ROOT / "tsconfig.json"), "include": ["probe.js"]}), encoding="utf-8")
    r = run(tool("tsc"), "-p", tmp_path / "tsconfig.json")
    assert r.returncode != 0
    assert "probe.js" in r.stdout, r.stdout + r.stderr
