"""The ``facecast`` command: one sub-command module per area, errors mapped to one line once.

Each module in this package has ``register(subparsers)`` that adds its sub-commands, each with a
``handler(args) -> int`` default. Typed ``FacecastError``s become a single line on stderr and a
non-zero exit code here, so no command prints a stack trace for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from facecast import __version__
from facecast.errors import FacecastError, InvalidInput, NotFound
from facecast.logs import configure as configure_logs

#: Sub-command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES = ("render", "captions", "voices", "server", "webhooks", "client")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facecast",
        description="Turn a portrait (or a short clip) plus speech into a lip-synced talking video.",
    )
    parser.add_argument("--version", action="version", version=f"facecast {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"facecast.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"facecast.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    configure_logs(args.verbose)  # text, or JSON with FACECAST_LOG_FORMAT=json
    try:
        return int(args.handler(args) or 0)
    except FacecastError as exc:
        print(f"facecast: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InvalidInput | NotFound) else 1
    except KeyboardInterrupt:
        print("facecast: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into a command that stopped reading (e.g. `| head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        message = environment_error(exc)
        if message is None:
            raise
        print(f"facecast: error: {message}", file=sys.stderr)
        return 1


def environment_error(exc: Exception) -> str | None:
    """One line for the errors the machine (not Facecast) causes: a data folder that cannot be
    written, a database that cannot be opened, a setting with a bad value; None for anything else."""
    from facecast.service.faults import storage_fault

    if type(exc).__name__ == "ValidationError" and "Settings" in str(exc):
        first = str(exc).splitlines()[1:3]
        return "invalid setting: " + " ".join(line.strip() for line in first)
    fault = storage_fault(exc)
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}" + (f" ({fault})" if fault and exc.filename is None else "")
    if fault is not None:
        return str(fault)
    if type(exc).__name__ == "OperationalError":
        return f"the database cannot be used: {str(exc).splitlines()[0]}"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
