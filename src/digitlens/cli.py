"""The ``digitlens`` command: parses arguments, calls the modules, prints results.

Each group of subcommands lives in ``digitlens.commands.<name>`` with a ``register(sub)``
function. With ``--json`` a command prints one JSON object as its last stdout line. Errors are
one line on stderr and exit status 1 (2 for usage errors: an unknown flag, or a flag value of
the wrong type, out of range or not among the choices, which the library reports as
``ParameterError`` or ``NotFoundError``), never a traceback (``DIGITLENS_DEBUG=1`` shows it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from digitlens.errors import DigitlensError, NotFoundError, ParameterError
from digitlens.version import __version__

COMMAND_MODULES = ("core", "render", "serve", "export", "compare", "ask", "why", "learn",
                   "sweep", "classroom")


class Parser(argparse.ArgumentParser):
    """Usage errors are one line too (exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"digitlens: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="digitlens", description="See how a neural network "
                    "recognises handwritten digits.")
    parser.add_argument("--version", action="version", version=f"digitlens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"digitlens.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"digitlens.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DigitlensError as exc:
        print(f"digitlens: error: {exc}", file=sys.stderr)
        # a flag value out of range (--epochs -3) or not among the choices (--preset nope) is a
        # usage error too; a bad file, missing data or a failed run is 1
        return 2 if isinstance(exc, ParameterError | NotFoundError) else 1
    except KeyboardInterrupt:
        print("digitlens: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: one line unless debugging
        if os.environ.get("DIGITLENS_DEBUG"):
            raise
        print(f"digitlens: internal error: {type(exc).__name__}: {exc} "
              "(set DIGITLENS_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
