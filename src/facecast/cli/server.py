"""``facecast serve``, ``facecast worker`` and ``facecast keys create|list|revoke``.

All of them read the same settings (``FACECAST_*``), so the keys command and the server agree on
the data folder and the database.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the API server (and its worker)",
        description="Run the Miraflow- and Mirage-compatible API server with a job worker beside it.",
    )
    serve.add_argument("--host", help="address to listen on (default: FACECAST_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: FACECAST_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=_count,
        metavar="N",
        help="worker processes to run beside the server (default 1; 0: a web-only node)",
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="do not start a worker (the same as --workers 0)"
    )
    serve.set_defaults(handler=_serve)

    worker = subparsers.add_parser(
        "worker", help="run a job worker", description="Run a worker that renders queued videos."
    )
    worker.add_argument("--threads", type=int, help="render threads (default: FACECAST_WORKERS or 1)")
    worker.set_defaults(handler=_worker)

    keys = subparsers.add_parser("keys", help="manage accounts and API keys", description="Manage API keys.")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    create = keys_sub.add_parser(
        "create",
        help="create a key (and the account if new)",
        description="Create an API key; it is printed once, alone on the last line.",
    )
    create.add_argument("--account", required=True, help="account name (created if it does not exist)")
    create.add_argument("--name", default="", help="a label for the key")
    create.set_defaults(handler=_keys_create)
    listing = keys_sub.add_parser(
        "list", help="list keys", description="List API keys (never the keys themselves)."
    )
    listing.add_argument("--account", help="only this account's keys")
    listing.set_defaults(handler=_keys_list)
    revoke = keys_sub.add_parser(
        "revoke", help="revoke a key", description="Revoke a key: give the key, its id or its prefix."
    )
    revoke.add_argument("key", help="the key, its id, or its prefix as listed")
    revoke.set_defaults(handler=_keys_revoke)
    keys.set_defaults(handler=lambda args: (keys.print_help(), 2)[1])


def _serve(args: argparse.Namespace) -> int:
    from facecast.service.server import serve
    from facecast.service.settings import get_settings

    settings = get_settings()
    workers = 0 if args.no_worker else args.workers
    return serve(settings, host=args.host, port=args.port, workers=workers)


def _count(text: str) -> int:
    """A worker count for argparse: 0..64."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError("must be between 0 and 64")
    return value


def _worker(args: argparse.Namespace) -> int:
    from facecast.service.worker import run_worker

    run_worker(workers=args.threads)
    return 0


def _database():  # type: ignore[no-untyped-def]
    from facecast.service.db import Database
    from facecast.service.settings import get_settings

    settings = get_settings()
    settings.ensure_dirs()
    db = Database(settings)
    db.migrate()
    return db


def _keys_create(args: argparse.Namespace) -> int:
    from facecast.service.auth import create_key, get_or_create_account

    db = _database()
    try:
        with db.transaction() as session:
            _, created = get_or_create_account(session, args.account)
            key, account = create_key(session, args.account, name=args.name)
    finally:
        db.dispose()
    print(f"{'Created account' if created else 'Account'} {account.name!r}; new API key (shown only now):")
    print(key)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from facecast.service.auth import list_keys

    db = _database()
    try:
        with db.session() as session:
            keys = list_keys(session, args.account)
    finally:
        db.dispose()
    if not keys:
        print("no keys")
        return 0
    rows = [("ID", "ACCOUNT", "PREFIX", "NAME", "CREATED", "LAST USED", "STATUS")]
    for k in keys:
        rows.append(
            (
                k.id,
                k.account,
                k.prefix + "…",
                k.name,
                k.created_at.strftime("%Y-%m-%d %H:%M"),
                k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "-",
                "revoked" if k.revoked_at else "active",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from facecast.service.auth import revoke_key

    db = _database()
    try:
        with db.transaction() as session:
            info = revoke_key(session, args.key)
    finally:
        db.dispose()
    print(f"revoked key {info.prefix}… ({info.id}) of account {info.account!r}")
    return 0
