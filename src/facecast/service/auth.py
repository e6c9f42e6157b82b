"""Accounts and API keys: keys are random, shown once, and stored only as their SHA-256.

A request names its key in ``x-api-key`` or ``Authorization: Bearer``. The same functions back the
HTTP dependency and the ``facecast keys`` command. Per-key rate limits live here too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from facecast.errors import InvalidInput, NotFound, RateLimited, Unauthorized
from facecast.service.ids import new_id
from facecast.service.models import Account, ApiKey, utcnow

KEY_PREFIX = "fc_"
#: last_used_at is refreshed at most this often per key (it is informational).
_TOUCH_EVERY = dt.timedelta(seconds=60)


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the account, and the key they used (rate limits are per key)."""

    account_id: str
    account_name: str
    key_id: str
    #: When the key was last recorded as used (informational; see ``touch_key``).
    last_used_at: dt.datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    account: str
    prefix: str
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def get_or_create_account(session: Session, name: str) -> tuple[Account, bool]:
    name = name.strip()
    if not name:
        raise InvalidInput("an account name is required", field="account")
    account = session.scalar(select(Account).where(Account.name == name))
    if account is not None:
        return account, False
    account = Account(id=new_id(), name=name)
    session.add(account)
    session.flush()
    return account, True


def create_key(session: Session, account_name: str, *, name: str = "") -> tuple[str, Account]:
    """A new key for ``account_name`` (the account is made if new). Returns the key in clear, once."""
    account, _ = get_or_create_account(session, account_name)
    key = generate_key()
    session.add(
        ApiKey(id=new_id(), account_id=account.id, key_hash=hash_key(key), prefix=key[:10], name=name)
    )
    session.flush()
    return key, account


def list_keys(session: Session, account_name: str | None = None) -> list[KeyInfo]:
    query = select(ApiKey, Account).join(Account, Account.id == ApiKey.account_id).order_by(ApiKey.created_at)
    if account_name:
        query = query.where(Account.name == account_name)
    return [
        KeyInfo(k.id, a.name, k.prefix, k.name, k.created_at, k.last_used_at, k.revoked_at)
        for k, a in session.execute(query).all()
    ]


def revoke_key(session: Session, key_or_id: str) -> KeyInfo:
    """Revoke a key named by its id, its full text, or its listed prefix (when unambiguous)."""
    text = key_or_id.strip().rstrip("…")
    matches = session.scalars(
        select(ApiKey).where(or_(ApiKey.id == text, ApiKey.key_hash == hash_key(text), ApiKey.prefix == text))
    ).all()
    if len(matches) != 1:
        raise NotFound(f"no single key matches {text!r}" if matches else f"no key matches {text!r}")
    key = matches[0]
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    account = session.get(Account, key.account_id)
    assert account is not None
    return KeyInfo(
        key.id, account.name, key.prefix, key.name, key.created_at, key.last_used_at, key.revoked_at
    )


def authenticate(session: Session, raw_key: str | None) -> Caller:
    """The caller a key belongs to; ``Unauthorized`` for a missing, unknown or revoked key.

    Only reads: recording when the key was last used is ``touch_key``'s job, which callers make
    best-effort (a full or read-only database must not fail a request that only reads)."""
    if not raw_key or not raw_key.strip():
        raise Unauthorized(
            "Missing API key: send it in the x-api-key header or as Authorization: Bearer <key>"
        )
    row = session.execute(
        select(ApiKey, Account)
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.key_hash == hash_key(raw_key))
    ).first()
    if row is None or row[0].revoked_at is not None:
        raise Unauthorized("Invalid API key")
    key, account = row
    return Caller(
        account_id=account.id, account_name=account.name, key_id=key.id, last_used_at=key.last_used_at
    )


def touch_key(session: Session, caller: Caller) -> bool:
    """Record that the caller's key was used (at most every ``_TOUCH_EVERY``); whether it wrote."""
    now = utcnow()
    if caller.last_used_at is not None and now - caller.last_used_at <= _TOUCH_EVERY:
        return False
    session.execute(update(ApiKey).where(ApiKey.id == caller.key_id).values(last_used_at=now))
    return True


def key_from_headers(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key a request names in ``x-api-key`` or ``Authorization: Bearer``; both may be sent, but
    then they must agree (``Unauthorized`` otherwise: neither is silently preferred)."""
    header = x_api_key.strip() if x_api_key and x_api_key.strip() else None
    bearer = None
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            bearer = value.strip()
    if header and bearer and header != bearer:
        raise Unauthorized(
            "The x-api-key header and the Authorization: Bearer token carry two different keys; send one key"
        )
    return header or bearer


class RateLimiter:
    """Token buckets per (key, bucket name) in this process: ``per_minute`` requests, bursts allowed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def hit(self, key_id: str, bucket: str, per_minute: int) -> None:
        """Take one token or raise ``RateLimited`` with the seconds until one is available."""
        if per_minute <= 0:
            return
        rate = per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get((key_id, bucket), (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[(key_id, bucket)] = (tokens, now)
                retry_after = max(1, math.ceil((1.0 - tokens) / rate))
                raise RateLimited(
                    f"Rate limit exceeded ({per_minute} {bucket} per minute); retry in {retry_after} s",
                    retry_after=retry_after,
                )
            self._buckets[(key_id, bucket)] = (tokens - 1.0, now)
