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
import os
from pathlib import Path
from typing import Any

from digitlens.errors import DigitlensError, ModelError
from digitlens.fileio import atomic_write_text
from digitlens.nn.presets import TrainConfig
from digitlens.nn.run import Run
from digitlens.safeload import REQUIRED, Maybe, check_schema, parse_json, read_bounded
from digitlens.sweep.grid import Point

KIND = "digitlens-sweep"
MAX_TABLE_BYTES = 64 << 20  # sweep.json and results.json: 10,000 points are ~10 MB
POINT_SCHEMA = {REQUIRED: ("name", "settings", "seed"), "name": str, "settings": dict,
                "seed": int}
MANIFEST_SCHEMA = {REQUIRED: ("kind", "points", "base"), "kind": (KIND,), "version": (1,),
                   "preset": str, "base": dict, "grids": [str], "points": [POINT_SCHEMA]}
ROW_SCHEMA = {REQUIRED: ("point", "settings", "seed", "status", "error", "test_accuracy",
                        "best_test_accuracy", "epochs"), "point": str,
              "settings": dict, "seed": int, "status": ("done", "failed", "pending"),
              "error": Maybe(str), "test_accuracy": Maybe(float),
              "best_test_accuracy": Maybe(float), "best_epoch": Maybe(int), "epochs": int,
              "seconds": float, "params": int, "run_dir": str}
RESULTS_SCHEMA = {REQUIRED: ("points",), "preset": Maybe(str), "grids": [str],
                  "base": dict, "points": [ROW_SCHEMA]}
CSV_FIELDS = ("point", "seed", "status", "test_accuracy", "best_test_accuracy", "best_epoch",
              "epochs", "seconds", "params", "error", "run_dir")


def manifest(preset: str, base: TrainConfig, grid_text: str, pts: list[Point]) -> dict[str, Any]:
    return {"kind": KIND, "version": 1, "preset": preset, "base": base.to_dict(),
            "grids": [grid_text], "points": [p.to_dict() for p in pts]}


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """``sweep.json`` through the loading boundary (None where the folder has none)."""
    p = folder / "sweep.json"
    if not os.path.lexists(p):
        return None
    m = read_table(p, MANIFEST_SCHEMA, "sweep manifest")
    for point in m["points"]:  # a name is made from its settings: never a path of its own
        if point["name"] != Point(point["settings"], point["seed"]).name:
            raise ModelError(f"{p}: point {point['name'][:80]!r} is not the name its settings "
                             "make; the manifest was changed")
    return m


def read_table(p: Path, schema: Any, what: str) -> dict[str, Any]:
    """A sweep's JSON file, bounded, parsed with limits and checked field by field; grid
    settings must be plain values (a number, a string or null), as the grid makes them."""
    doc = parse_json(read_bounded(p, MAX_TABLE_BYTES, ModelError, what),
                     f"{p}: unreadable {what}", ModelError)
    check_schema(doc, schema, str(p), f"the {what}", ModelError)
    for i, point in enumerate(doc["points"]):
        for key, value in point["settings"].items():
            if not (value is None or isinstance(value, str) or
                    (isinstance(value, int | float) and not isinstance(value, bool)
                     and math.isfinite(value))):
                raise ModelError(f"{p}: the {what}'s points[{i}].settings.{key} must be a "
                                 f"number, a string or null, not {type(value).__name__}")
    return dict(doc)


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
    """A point's training config; a manifest whose base or settings make none is a
    ``ModelError`` naming the point."""
    from digitlens.nn.presets import validate_config
    from digitlens.sweep.grid import apply
    try:
        base = dict(m["base"], layers=tuple(m["base"]["layers"]))
        config = apply(TrainConfig(**base), point["settings"], int(point["seed"]))
        validate_config(config)
    except (TypeError, ValueError, KeyError, DigitlensError) as exc:
        raise ModelError(f"sweep.json: point {str(point.get('name'))[:80]!r} has no usable "
                         f"training config ({str(exc)[:200]})") from None
    return config


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
            "params": config.n_params(), "run_dir": str(run_dir)}


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
    """A sweep's results table, read through the loading boundary (``ModelError`` when it is
    not a sweep or its table is damaged: a string accuracy never reaches a chart)."""
    p = Path(folder) / "results.json"
    if not os.path.lexists(p):
        raise ModelError(f"{folder}: not a sweep folder (no results.json)")
    return read_table(p, RESULTS_SCHEMA, "results table")
