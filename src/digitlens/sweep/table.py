"""A sweep folder on disk: ``sweep.json`` (what was asked), one run folder per point, and the
results table ``results.json`` + ``results.csv``, rewritten atomically after every point.

The table is always rebuilt from the run folders themselves, so a sweep killed at any instant
and started again reports exactly what its folders hold.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from digitlens.errors import DigitlensError, ModelError
from digitlens.fileio import atomic_write_text
from digitlens.nn.mlp import n_params
from digitlens.nn.presets import TrainConfig
from digitlens.nn.run import Run
from digitlens.sweep.grid import Point

KIND = "digitlens-sweep"
CSV_FIELDS = ("point", "seed", "status", "test_accuracy", "best_test_accuracy", "best_epoch",
              "epochs", "seconds", "params", "error", "run_dir")


def manifest(preset: str, base: TrainConfig, grid_text: str, pts: list[Point]) -> dict[str, Any]:
    return {"kind": KIND, "version": 1, "preset": preset, "base": base.to_dict(),
            "grids": [grid_text], "points": [p.to_dict() for p in pts]}


def read_manifest(folder: Path) -> dict[str, Any] | None:
    p = folder / "sweep.json"
    if not p.exists():
        return None
    try:
        m = json.loads(p.read_text())
        if m.get("kind") != KIND or not isinstance(m.get("points"), list):
            raise ValueError("not a digitlens sweep")
        return dict(m)
    except (ValueError, OSError, AttributeError) as exc:
        raise ModelError(f"{p}: unreadable sweep manifest ({exc})") from None


def merge(old: dict[str, Any] | None, new: dict[str, Any], extend: bool,
          folder: Path) -> dict[str, Any]:
    """The manifest to write: ``new`` for a new folder or the same grid again; ``old`` plus
    ``new``'s points with ``extend``; otherwise a refusal naming the difference."""
    if old is None:
        if folder.exists() and any(folder.iterdir()):
            raise DigitlensError(f"{folder} exists and is not a sweep folder; choose another "
                                 "--out")
        return new
    same_base = old.get("base") == new["base"] and old.get("preset") == new["preset"]
    names = [p["name"] for p in old["points"]]
    if same_base and set(names) == {p["name"] for p in new["points"]}:
        return old
    if not extend:
        what = ("another preset or base settings" if not same_base else
                f"another grid ({'; '.join(old.get('grids', []))})")
        raise DigitlensError(f"{folder} holds a sweep of {what}; add --extend to add these "
                             "points to it, or choose another --out")
    if old.get("preset") != new["preset"] or \
            {k: v for k, v in old["base"].items() if k != "epochs"} != \
            {k: v for k, v in new["base"].items() if k != "epochs"}:
        raise DigitlensError(f"{folder} holds a sweep of preset {old.get('preset')!r} with "
                             "other base settings; --extend only adds points to the same base")
    merged = dict(old, base=new["base"], grids=[*old.get("grids", []), *new["grids"]])
    merged["points"] = old["points"] + [p for p in new["points"] if p["name"] not in names]
    return merged


def config_of(m: dict[str, Any], point: dict[str, Any]) -> TrainConfig:
    from digitlens.sweep.grid import apply
    base = dict(m["base"], layers=tuple(m["base"]["layers"]))
    return apply(TrainConfig(**base), point["settings"], int(point["seed"]))


def finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def row(folder: Path, m: dict[str, Any], point: dict[str, Any],
        error: str | None = None) -> dict[str, Any]:
    """One point's line of the table, read from its run folder."""
    config = config_of(m, point)
    run_dir = folder / point["name"]
    try:
        history = Run(run_dir).history()
    except ModelError as exc:
        history, error = [], error or str(exc)
    accs = [finite(h.get("test_accuracy")) for h in history]
    done = len(history) >= config.epochs and error is None
    best = max(range(len(accs)), key=lambda i: accs[i] or -1.0) if accs else None
    status = "done" if done else ("failed" if error else "pending")
    return {"point": point["name"], "settings": point["settings"], "seed": point["seed"],
            "status": status, "error": error,
            "test_accuracy": accs[-1] if done and accs else None,
            "best_test_accuracy": accs[best] if best is not None else None,
            "best_epoch": best + 1 if best is not None else None,
            "epochs": len(history), "seconds": round(sum(h.get("seconds", 0) for h in history), 3),
            "params": n_params(config.layers), "run_dir": str(run_dir)}


def write_table(folder: Path, rows: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    """``results.json`` and ``results.csv`` (one column per grid key), each atomically."""
    atomic_write_text(folder / "results.json", json.dumps({**extra, "points": rows}, indent=1))
    keys = list(dict.fromkeys(k for r in rows for k in r["settings"]))
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow([*keys, *CSV_FIELDS])
    for r in rows:
        out.writerow([r["settings"].get(k, "") for k in keys] +
                     ["" if r[f] is None else r[f] for f in CSV_FIELDS])
    atomic_write_text(folder / "results.csv", buf.getvalue())


def read_results(folder: str | Path) -> dict[str, Any]:
    """A sweep's results table (``NotFoundError``-like message when it is not a sweep)."""
    p = Path(folder) / "results.json"
    if not p.is_file():
        raise ModelError(f"{folder}: not a sweep folder (no results.json)")
    try:
        data = json.loads(p.read_text())
        if not isinstance(data.get("points"), list):
            raise ValueError("no points")
        return dict(data)
    except (ValueError, OSError, AttributeError) as exc:
        raise ModelError(f"{p}: unreadable results table ({exc})") from None
