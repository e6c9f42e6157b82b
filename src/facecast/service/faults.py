"""Storage faults told truthfully: which OS and database errors mean "the disk is full" or "the
media folder / database cannot be written", as typed errors the API and the worker report.

A full disk is ``InsufficientStorage`` (HTTP 507), a read-only, vanished or failing one
``StorageUnavailable`` (HTTP 503); anything else is not a storage fault (None).
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from facecast.errors import InsufficientStorage, StorageUnavailable

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_UNAVAILABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.ENOENT, errno.ENOTDIR, errno.ESTALE}
#: Words in SQLite's (and PostgreSQL's) messages for the same two conditions.
_DB_FULL = ("disk is full", "no space left", "could not extend file")
_DB_UNAVAILABLE = ("readonly database", "read-only", "disk i/o error", "unable to open database")


def storage_fault(exc: BaseException) -> StorageUnavailable | None:
    """The storage fault behind ``exc`` (or one of its causes), else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageUnavailable):
            return current
        found = _classify(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _classify(exc: BaseException) -> StorageUnavailable | None:
    if isinstance(exc, OSError) and exc.errno is not None:
        where = f" ({exc.filename})" if exc.filename else ""
        reason = f"{os.strerror(exc.errno)}{where}"
        if exc.errno in _FULL:
            return InsufficientStorage(f"The server's disk is full: {reason}")
        if exc.errno in _UNAVAILABLE:
            return StorageUnavailable(f"The server's storage cannot be written: {reason}")
        return None
    text = str(exc).lower()
    if type(exc).__name__ in ("OperationalError", "DiskFull", "ReadOnlySqlTransaction") or "sqlite" in text:
        if any(w in text for w in _DB_FULL):
            return InsufficientStorage("The server's database disk is full")
        if any(w in text for w in _DB_UNAVAILABLE):
            return StorageUnavailable("The server's database cannot be written")
    return None


def probe_writable(folder: Path) -> StorageUnavailable | None:
    """Whether a small file can be created, written, synced and removed in ``folder`` (None: yes)."""
    probe = folder / f".probe-{secrets.token_hex(4)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as out:
            out.write(b"\0" * 4096)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        return storage_fault(exc) or StorageUnavailable(f"The server's storage cannot be written: {exc}")
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    return None
