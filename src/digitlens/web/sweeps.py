"""Sweeps in the runs folder, for the explorer's Sweeps tab: each sweep's results table with
every finished point offered as a run named ``SWEEP.POINT`` (names only, never paths)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from digitlens.errors import DigitlensError, NotFoundError
from digitlens.http.validate import NAME_RE
from digitlens.nn.run import is_run
from digitlens.sweep.table import read_results

FIELDS = ("point", "settings", "seed", "status", "test_accuracy", "best_test_accuracy",
          "epochs", "seconds", "params")


def sweep_folders(runs_dir: Path | None) -> dict[str, Path]:
    """The sweep folders directly inside ``runs_dir``, by folder name."""
    if runs_dir is None or not runs_dir.is_dir():
        return {}
    return {p.name: p for p in sorted(runs_dir.iterdir())
            if NAME_RE.match(p.name) and (p / "sweep.json").is_file()}


def run_name(sweep: str, point: str) -> str:
    """``SWEEP.POINT``, or a shortened name with a hash when that is too long."""
    name = f"{sweep}.{point}"
    if NAME_RE.match(name) and ".." not in name:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]  # noqa: S324 (a name, not security)
    return f"{sweep[:40].strip('.')}.{digest}"


def point_runs(runs_dir: Path | None) -> dict[str, Path]:
    """Every point folder of every sweep that has a model, by run name."""
    found = {}
    for name, folder in sweep_folders(runs_dir).items():
        for p in sorted(folder.iterdir()):
            if is_run(p):
                found[run_name(name, p.name)] = p
    return found


def listing(runs_dir: Path | None, known: set[str]) -> list[dict[str, Any]]:
    """Each sweep with its points; ``run`` is the name to open a point by (None until it has
    a model). An unreadable sweep is listed with its error."""
    out: list[dict[str, Any]] = []
    for name, folder in sweep_folders(runs_dir).items():
        try:
            results = read_results(folder)
        except DigitlensError as exc:
            out.append({"name": name, "error": str(exc).split(": ", 1)[-1], "points": []})
            continue
        points = []
        for r in results["points"]:
            row = {k: r.get(k) for k in FIELDS}
            row["error"] = str(r["error"])[:300] if r.get("error") else None
            run = run_name(name, str(r.get("point")))
            row["run"] = run if run in known else None
            points.append(row)
        keys = list(dict.fromkeys(k for r in points for k in (r["settings"] or {})))
        out.append({"name": name, "preset": results.get("preset"), "keys": keys,
                    "grids": results.get("grids", []), "points": points})
    return out


def chart_png(runs_dir: Path | None, name: str) -> bytes:
    """The sweep's chart (``render sweep`` against its first grid key) as PNG bytes."""
    from digitlens.render.sweep import grid_keys, sweep_chart
    folder = sweep_folders(runs_dir).get(name)
    if folder is None:
        raise NotFoundError(f"unknown sweep {name!r}")
    results = read_results(folder)
    if not results["points"]:
        raise NotFoundError(f"sweep {name!r} has no points yet")
    return sweep_chart(results, grid_keys(results)[0]).encode("png")
