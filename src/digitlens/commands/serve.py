"""``digitlens serve``: the live explorer on http://127.0.0.1:8000 (loopback by default)."""

from __future__ import annotations

import argparse
import inspect
import ipaddress
import json
import os
import socket
import threading
import webbrowser
from pathlib import Path
from typing import Any

from digitlens.commands import add_data, say
from digitlens.errors import DigitlensError, ModelError, bad_param

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# The live socket's answers are mostly float32 noise: compressing them (uvicorn's default)
# costs both ends time and saves next to nothing.
DEFLATE = False


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="the live explorer: draw a digit and watch every neuron")
    p.add_argument("--run", help="run folder or model file to show first")
    p.add_argument("--runs-dir", default="runs", help="folder of runs to offer (default runs)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--allow-training", action="store_true",
                   help="allow training from the page when listening beyond this machine")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument("--workers", type=int, default=1,
                   help="processes answering requests (default 1); more use more cores for "
                        "many clients, with training from the page off")
    add_data(p)  # the test set of the run named with --run, when its model records none
    p.set_defaults(func=cmd_serve)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):  # noqa: S104 - only to print a reachable URL
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from threadpoolctl import threadpool_limits

    from digitlens.commands import load_data, resolve_network
    from digitlens.web import live
    from digitlens.web.app import create_app
    from digitlens.web.connections import raise_fd_limit
    from digitlens.web.runs import Registry

    if not 0 <= args.port <= 65535:
        raise bad_param("port", "an int in 0..65535", args.port)
    if not 1 <= args.workers <= 32:
        raise bad_param("workers", "an int in 1..32", args.workers)
    if args.workers > 1 and args.allow_training:
        raise bad_param("workers", "1 with --allow-training (a training job lives in one "
                        "process)", args.workers)
    loopback = is_loopback(args.host)
    extra = [Path(args.run)] if args.run else []
    if args.run and not Path(args.run).exists():
        raise ModelError(f"{args.run}: no such model file or run folder")
    named = args.dataset is not None or args.data_dir is not None
    if named and not args.run:
        raise bad_param("data-dir", "given with --run (the data of that run)", args.data_dir
                        or args.dataset)
    if named and args.workers > 1:
        raise bad_param("workers", "1 with --data-dir/--dataset (each worker process finds "
                        "a run's data from its model)", args.workers)
    # a corrupt model, or one whose data cannot be found or does not fit, is refused here
    # (one line, before anything listens), not on every request or by a page showing another run
    data = load_data(args, resolve_network(args.run)) if args.run else None
    # One BLAS thread for the whole server: its products are small, and spinning OpenBLAS
    # threads on a busy machine cost far more than they save (see digitlens.nn.threads).
    threadpool_limits(limits=1, user_api="blas")
    raise_fd_limit()  # room for many clients; the connection cap stays below it
    registry = Registry(Path(args.runs_dir), extra)
    if data is not None and named:
        registry.given[Registry.safe_name(Path(args.run))] = data
    training = (loopback or args.allow_training) and args.workers == 1
    hosts = ["127.0.0.1", "localhost", "[::1]", url_host(args.host)] if loopback else None
    app = create_app(registry, allow_training=training, allowed_hosts=hosts)

    sock = listen(args.host, args.port)
    port = sock.getsockname()[1]
    url = f"http://{url_host(args.host)}:{port}/"
    runs = registry.names()
    say("runs: " + (", ".join(runs) if runs else "none yet (train one on the page or with "
                    "digitlens train)"))
    say("training from the page: " + ("on" if training else
                                      f"off ({args.workers} worker processes)" if args.workers > 1
                                      else "off (read-only; add --allow-training)"))
    if not live.available():
        say("live channel: off; " + live.NO_LIBRARY)
    print(f"digitlens explorer: {url}", flush=True)
    if args.open:
        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    if args.workers > 1:
        return serve_workers(args, extra, hosts, sock)
    config = uvicorn.Config(app, **server_options())
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound before any URL is printed: connections wait in the backlog
    while uvicorn starts (importing its WebSocket library takes a moment) instead of failing.
    IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto
    says TCP; without it every response's body waited for a delayed ACK."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                         socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise DigitlensError(f"cannot listen on {host}:{port} ({exc.strerror}); "
                             "try another --port") from None
    return sock


def server_options() -> dict[str, Any]:
    """uvicorn's settings, one process or several. A live-socket message is a predict body:
    uvicorn refuses bigger ones before buffering them, and a client that does not read its
    answers can queue only two."""
    from digitlens.http.validate import MAX_BODY
    from digitlens.web import connections
    return {"log_level": "warning", "access_log": False, "lifespan": "off",
            "timeout_graceful_shutdown": 2, "ws_per_message_deflate": DEFLATE,
            "ws_max_size": MAX_BODY + 1024, "ws_max_queue": 2,
            "http": connections.protocol_class(), "timeout_keep_alive": connections.KEEP_ALIVE,
            "h11_max_incomplete_event_size": 16 * 1024}


def serve_workers(args: argparse.Namespace, extra: list[Path], hosts: list[str] | None,
                  sock: socket.socket) -> int:
    """Several processes on one listening socket, under uvicorn's supervisor (which restarts a
    worker that dies). One Python process answers on one core at most; each worker loads its
    own copy of the runs, and none trains (a job and its progress stream live in one process).
    uvicorn starts workers afresh, so they build the app from the environment."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from digitlens.web.app import SERVE_ENV
    os.environ[SERVE_ENV] = json.dumps({"runs_dir": args.runs_dir, "hosts": hosts,
                                        "extra": [str(p) for p in extra]})
    config = uvicorn.Config("digitlens.web.app:from_environment", factory=True,
                            workers=args.workers, **server_options())
    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn
        Multiprocess(config, target=uvicorn.Server(config).run,  # type: ignore[call-arg]
                     sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()
    return 0
