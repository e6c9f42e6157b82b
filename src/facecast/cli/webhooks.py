"""``facecast webhooks add|list|remove``: an account's webhook endpoints, from the server's own
settings (the same database as ``facecast serve``), like ``facecast keys``."""

from __future__ import annotations

import argparse

from facecast.errors import NotFound


def register(subparsers: argparse._SubParsersAction) -> None:
    hooks = subparsers.add_parser(
        "webhooks",
        help="manage webhook endpoints",
        description="Add, list and remove the webhook endpoints of an account (Standard Webhooks).",
    )
    sub = hooks.add_subparsers(dest="webhooks_command", metavar="ACTION")
    add = sub.add_parser(
        "add",
        help="add an endpoint; prints its secret alone on the last line",
        description="Add a webhook endpoint; its signing secret (whsec_...) is printed once, on the last line.",
    )
    add.add_argument("--account", required=True, help="account name")
    add.add_argument("--url", required=True, help="where events are POSTed (http or https)")
    add.add_argument("--events", nargs="+", metavar="EVENT", help="events to receive (default: all of them)")
    add.set_defaults(handler=_add)
    listing = sub.add_parser("list", help="list endpoints (never their secrets)")
    listing.add_argument("--account", help="only this account's endpoints")
    listing.set_defaults(handler=_list)
    remove = sub.add_parser("remove", help="remove an endpoint")
    remove.add_argument("id", help="the endpoint's id as listed")
    remove.set_defaults(handler=_remove)
    hooks.set_defaults(handler=lambda args: (hooks.print_help(), 2)[1])


def _account_id(db, name: str) -> str:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from facecast.service.models import Account

    with db.session() as session:
        found = session.scalar(select(Account.id).where(Account.name == name))
    if found is None:
        raise NotFound(f"no account named {name!r}")
    return str(found)


def _add(args: argparse.Namespace) -> int:
    from facecast.cli.server import _database
    from facecast.service.settings import get_settings
    from facecast.service.webhooks import add_endpoint

    db = _database()
    try:
        endpoint = add_endpoint(
            db,
            _account_id(db, args.account),
            args.url,
            args.events,
            api="miraflow",
            allow_private=get_settings().webhook_allow_private,
        )
    finally:
        db.dispose()
    print(f"Added webhook endpoint {endpoint.id} for {args.account!r}: {endpoint.url}")
    print(f"events: {endpoint.events}")
    print("Its signing secret (shown only now):")
    print(endpoint.secret)
    return 0


def _list(args: argparse.Namespace) -> int:
    from facecast.cli.server import _database
    from facecast.service.webhooks import list_endpoints

    db = _database()
    try:
        account = _account_id(db, args.account) if args.account else None
        rows = list_endpoints(db, account)
    finally:
        db.dispose()
    if not rows:
        print("no webhook endpoints")
        return 0
    for row in rows:
        print(f"{row.id}  {row.url}  {row.events}  {row.created_at:%Y-%m-%d %H:%M}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from facecast.cli.server import _database
    from facecast.service.webhooks import remove_endpoint

    db = _database()
    try:
        remove_endpoint(db, None, args.id)
    finally:
        db.dispose()
    print(f"Removed webhook endpoint {args.id}")
    return 0
