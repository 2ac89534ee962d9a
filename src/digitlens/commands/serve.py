"""``digitlens serve``: the live explorer on http://127.0.0.1:8000 (loopback by default)."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import threading
import webbrowser
from pathlib import Path
from typing import Any

from digitlens.commands import say
from digitlens.errors import bad_param

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


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

    from digitlens.commands import resolve_model
    from digitlens.web.app import create_app
    from digitlens.web.runs import Registry

    if not 0 <= args.port <= 65535:
        raise bad_param("port", "an int in 0..65535", args.port)
    loopback = is_loopback(args.host)
    extra = [Path(args.run)] if args.run else []
    if args.run and not Path(args.run).exists():
        raise bad_param("run", "an existing run folder or model file", args.run)
    if args.run:
        resolve_model(args.run)  # a corrupt model is refused here, not on every request
    # One BLAS thread for the whole server: its products are small, and spinning OpenBLAS
    # threads on a busy machine cost far more than they save (see digitlens.nn.threads).
    threadpool_limits(limits=1, user_api="blas")
    registry = Registry(Path(args.runs_dir), extra)
    training = loopback or args.allow_training
    hosts = ["127.0.0.1", "localhost", "[::1]", url_host(args.host)] if loopback else None
    app = create_app(registry, allow_training=training, allowed_hosts=hosts)

    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto
    # says TCP; without it every response's body waited ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET,
                         socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        from digitlens.errors import DigitlensError
        raise DigitlensError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                             "try another --port") from None
    port = sock.getsockname()[1]
    url = f"http://{url_host(args.host)}:{port}/"
    runs = registry.names()
    say("runs: " + (", ".join(runs) if runs else "none yet (train one on the page or with "
                    "digitlens train)"))
    say("training from the page: " + ("on" if training else
                                      "off (read-only; add --allow-training)"))
    print(f"digitlens explorer: {url}", flush=True)
    if args.open:
        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0
