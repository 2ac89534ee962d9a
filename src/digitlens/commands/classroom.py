"""``digitlens classroom``: the lesson server, and ``classroom export``: its digits as IDX."""

from __future__ import annotations

import argparse
import secrets
import socket
from pathlib import Path
from typing import Any

from digitlens.commands import add_json, emit, resolve_network, say
from digitlens.errors import DigitlensError, ModelError, ParameterError, bad_param
from digitlens.nn.cnn import CNN

DEFAULT_DB = "classroom.sqlite"
PHONES = 40  # digitlens.classroom.limits.PHONES, without importing the server here
MAX_PHONES = 10_000


def register(sub: Any) -> None:
    p = sub.add_parser("classroom", help="a class draws on phones; the teacher's screen shows "
                       "how the network reads its handwriting")
    p.add_argument("--run", help="run folder or model file the class draws for")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for a room)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks one)")
    p.add_argument("--db", default=DEFAULT_DB,
                   help=f"the class's record, an SQLite file (default {DEFAULT_DB})")
    p.add_argument("--sync", default="normal", choices=("normal", "full"),
                   help="normal (default): an acknowledged drawing survives a crash of the "
                        "server, and the file is synced to disk every second; full: each "
                        "drawing is on disk before it is acknowledged (slower where fsync is)")
    p.add_argument("--phones-per-address", type=int, default=PHONES,
                   help=f"phones that may share one network address, as a class behind a "
                        f"school's NAT does (default {PHONES}): sizes the per-address limits "
                        "(drawings at N/2 a second, new devices at N a minute)")
    p.set_defaults(func=cmd_classroom)
    csub = p.add_subparsers(dest="classroom_command", metavar="ACTION")
    e = csub.add_parser("export", help="the class's drawings as IDX files for train --data-dir")
    e.add_argument("--db", required=True, help="the class database")
    e.add_argument("--out", required=True, help="folder to write the dataset into")
    e.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of drawings held out for testing (default 0.2)")
    e.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    add_json(e)
    e.set_defaults(func=cmd_export)


def lan_address() -> str:
    """This machine's address on the local network (no packet is sent), else its name."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            return str(s.getsockname()[0])
        except OSError:
            return socket.gethostname()


def reachable_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):  # noqa: S104 - only to print a reachable URL
        return lan_address()
    return f"[{host}]" if ":" in host else host


def cmd_classroom(args: argparse.Namespace) -> int:
    from digitlens.classroom import qr
    from digitlens.classroom.supervise import supervised

    if args.run is None:
        raise ParameterError("give --run RUN (the model the class draws for), or an action: "
                             "digitlens classroom export --db FILE --out DIR")
    if not 0 <= args.port <= 65535:
        raise bad_param("port", "an int in 0..65535", args.port)
    if not 1 <= args.phones_per_address <= MAX_PHONES:
        raise bad_param("phones_per_address", f"an int in 1..{MAX_PHONES}",
                        args.phones_per_address)
    qr.make("check")  # segno missing: say so before anything starts
    model = resolve_network(args.run)
    shape, classes = model.image_shape, model.n_classes
    gray = not isinstance(model, CNN) or model.input_shape[0] == 1
    if shape != (28, 28) or classes != 10 or not gray:
        h, w = shape  # the class draws, stores and retrains on MNIST's digits
        raise ModelError(f"{args.run}: the classroom collects 28×28 drawings of the digits "
                         f"0-9; this model reads {h}×{w} images into {classes} classes")
    return supervised(lambda: serve(args, model), Path(args.db))


def serve(args: argparse.Namespace, model: Any) -> int:
    """The lesson's server (in the supervised child): the record, the URLs, uvicorn."""
    import uvicorn
    from threadpoolctl import threadpool_limits

    from digitlens.classroom import qr
    from digitlens.classroom.app import Lesson, create_app
    from digitlens.classroom.limits import Limits
    from digitlens.classroom.store import Store
    from digitlens.commands.serve import is_loopback, listen, server_options

    threadpool_limits(limits=1, user_api="blas")
    store = Store(args.db, args.sync)
    try:
        token = store.setting("token")
        if not token:  # one per class record: a restarted server keeps the teacher's URL
            token = secrets.token_urlsafe(18)
            store.set_setting("token", token)
        sock = listen(args.host, args.port)
        base = f"http://{reachable_host(args.host)}:{sock.getsockname()[1]}"
        loopback = is_loopback(args.host)
        hosts = (["127.0.0.1", "localhost", "[::1]", reachable_host(args.host)] if loopback
                 else None)
        lesson = Lesson(store, model, Path(args.run).name, token, base + "/",
                        mnist_accuracy(model), limits=Limits(phones=args.phones_per_address))
        app = create_app(lesson, allowed_hosts=hosts)
        print(f"student: {base}/", flush=True)
        print(f"teacher: {base}/teacher?token={token}", flush=True)
        say(qr.terminal(base + "/"))
        say(f"class record: {args.db} ({int(store.confusion().sum())} drawings so far); "
            "keep the teacher URL to yourself")
        if loopback:
            say("listening on this machine only: add --host 0.0.0.0 for phones in the room")
        # phones send every few seconds: keep their connections open between drawings
        options = {**server_options(), "timeout_keep_alive": 30}
        uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
    finally:
        store.close()
    return 0


def mnist_accuracy(model: Any) -> float | None:
    """The model's accuracy on the MNIST test set (cached or the embedded sample's)."""
    from digitlens.analysis.metrics import evaluate_model
    from digitlens.data.sources import load_dataset
    try:
        ds = load_dataset("mnist", fetch=False, log=say)
    except DigitlensError:
        return None
    return evaluate_model(model, ds.test_images, ds.test_labels).accuracy


def cmd_export(args: argparse.Namespace) -> int:
    from digitlens.classroom.dataset import export_dataset
    doc = export_dataset(args.db, args.out, args.test_fraction, args.seed)
    n_train, n_test = sum(doc["train_per_class"]), sum(doc["test_per_class"])
    result = {"out": str(args.out), "train": n_train, "test": n_test,
              "train_per_class": doc["train_per_class"], "test_per_class": doc["test_per_class"],
              "sha256": doc["sha256"]}
    text = (f"wrote {n_train} train + {n_test} test drawings to {args.out}\n"
            f"  fine-tune: digitlens train --preset default --data-dir {args.out} --init RUN")
    return emit(args, result, text)

