"""``digitlens sweep``: a grid of preset overrides × seeds trained on Dask into one folder."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from digitlens.commands import add_data, add_json, emit, say
from digitlens.errors import DigitlensError, bad_param
from digitlens.fileio import atomic_write_text, check_folder, make_folder
from digitlens.nn.presets import default_preset, get_preset


def register(sub: Any) -> None:
    p = sub.add_parser("sweep", help="train a grid of networks (settings × seeds) on Dask",
                       description="Grid keys: hidden (64: every hidden layer; 64x32: exactly "
                       "these), layers, activation, optimizer, schedule, init, dataset, lr, "
                       "momentum, l2, batch_size, train_size (or 'all').")
    p.add_argument("--preset", default=default_preset().name, help="preset the grid overrides")
    p.add_argument("--grid", required=True,
                   help='e.g. "hidden=16,32,64,128;train_size=500,60000"')
    p.add_argument("--seeds", default="0", help="e.g. 0,1,2 or 0-4 (default 0)")
    p.add_argument("--epochs", type=int, help="epochs of every point (default: the preset's)")
    p.add_argument("--out", required=True, help="sweep folder (one run folder per point)")
    p.add_argument("--workers", type=int, help="local worker processes (default: core count)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. "
                   "tcp://10.0.0.5:8786 (workers must see --out at the same path)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the scheduler (default 10)")
    p.add_argument("--extend", action="store_true",
                   help="add this grid's points to a sweep folder made by another grid")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from digitlens.sweep import grid as G
    from digitlens.sweep import table as T
    from digitlens.sweep.execute import Cluster, machine_workers
    most = machine_workers()
    if args.workers is not None and not 1 <= args.workers <= most:
        raise bad_param("workers", f"an int in 1..{most} (this machine's cores)", args.workers)
    if not 0 < args.timeout <= 3600:
        raise bad_param("timeout", "a number of seconds in (0, 3600]", args.timeout)
    preset = get_preset(args.preset)
    base = preset.config.with_overrides(epochs=args.epochs, dataset=args.dataset)
    pts = G.points(G.parse_grid(args.grid), G.parse_seeds(args.seeds), base)
    folder = Path(args.out).absolute()
    check_folder(folder)
    m = T.merge(T.read_manifest(folder), T.manifest(preset.name, base, args.grid, pts),
                args.extend, folder)
    rows = {p["name"]: T.row(folder, m, p) for p in m["points"]}
    todo = [p for p in m["points"] if rows[p["name"]]["status"] != "done"]
    t0 = time.perf_counter()
    cluster = Cluster(args.scheduler, args.workers, args.timeout) if todo else None
    make_folder(folder)
    atomic_write_text(folder / "sweep.json", json.dumps(m, indent=1))
    extra = {"preset": m["preset"], "base": m["base"], "grids": m["grids"]}

    def save() -> None:
        T.write_table(folder, [rows[p["name"]] for p in m["points"]], extra)

    save()
    if cluster is not None:
        say(f"sweep: {len(todo)} of {len(m['points'])} points to train on {cluster.where} "
            f"({len(m['points']) - len(todo)} already done)")
        specs = [{"name": p["name"], "config": T.config_of(m, p).to_dict(),
                  "run_dir": str(folder / p["name"]), "data_dir": args.data_dir,
                  "fetch": not args.no_fetch} for p in todo]
        finished = 0

        def done(spec: dict[str, Any], answer: dict[str, Any]) -> None:
            nonlocal finished
            finished += 1
            point = next(p for p in todo if p["name"] == spec["name"])
            r = rows[spec["name"]] = T.row(folder, m, point, answer.get("error"))
            save()
            what = (f"test accuracy {r['test_accuracy']:.2%}" if r["status"] == "done"
                    else f"{r['status']}: {r['error']}")
            say(f"[{finished}/{len(todo)}] {spec['name']}: {what}")

        try:
            cluster.map(specs, done)
        finally:
            cluster.close()
    result = {"sweep_dir": str(folder), "preset": m["preset"],
              "points": [{k: r[k] for k in ("point", "settings", "seed", "test_accuracy",
                                            "best_test_accuracy", "status", "error", "epochs",
                                            "seconds", "params", "run_dir")}
                         for r in (rows[p["name"]] for p in m["points"])],
              "seconds": round(time.perf_counter() - t0, 3)}
    n_failed = sum(r["status"] != "done" for r in result["points"])
    text = "\n".join(f"{r['point']:<40} {r['status']:<7} " +
                     (f"{r['test_accuracy']:.2%}" if r["test_accuracy"] is not None
                      else str(r["error"])) for r in result["points"])
    text += (f"\nresults: {folder / 'results.csv'}" +
             (f" ({n_failed} of {len(result['points'])} points failed)" if n_failed else ""))
    emit(args, result, text)
    if n_failed:
        print(f"digitlens: error: {n_failed} of {len(result['points'])} sweep points did not "
              f"finish (see {folder / 'results.csv'}); run the same command again to retry "
              "them", file=sys.stderr)
        return 1
    return 0


def cmd_render_sweep(args: argparse.Namespace) -> int:
    """``render sweep --sweep DIR --x KEY [--hue KEY] --out FILE.png``."""
    from digitlens.render.sweep import grid_keys, sweep_chart
    from digitlens.sweep.table import read_results
    if not args.sweep or not args.out:
        raise DigitlensError("render sweep needs --sweep SWEEP_DIR and --out FILE.png")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".webp", ".jpg", ".jpeg"):
        raise bad_param("out", "a .png, .webp or .jpg file", str(out))
    results = read_results(args.sweep)
    t0 = time.perf_counter()
    picture = sweep_chart(results, args.x or grid_keys(results)[0], args.hue)
    picture.save(out)
    seconds = time.perf_counter() - t0
    say(f"sweep: {picture.caption}")
    result = {"view": "sweep", "out": str(out), "format": out.suffix.lower().lstrip("."),
              "frames": 1, "seconds": round(seconds, 3), "caption": picture.caption,
              "data": picture.data}
    return emit(args, result, f"wrote {out} ({seconds:.2f} s)")
