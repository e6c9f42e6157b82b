"""Log lines: one per event, as text (default) or JSON (``FACECAST_LOG_FORMAT=json``), with the id
of the job or avatar the line concerns in a field of its own, so one job can be followed through
the web node, the reaper and whichever worker rendered it."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

#: The job (or avatar) the current thread works on; set by the worker around each task.
current_subject: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "facecast_log_subject", default=None
)
#: Lines written by code that names the job in its message: "job <id>: ...", "avatar <id>: ...".
_NAMED = re.compile(r"^(job|avatar|webhook) (\S+?):? ")


@contextmanager
def about(kind: str, subject_id: str) -> Iterator[None]:
    """Every line logged inside is about the job (``kind`` "job") or avatar ``subject_id``."""
    token = current_subject.set((kind, subject_id))
    try:
        yield
    finally:
        current_subject.reset(token)


def subject_of(record: logging.LogRecord, message: str) -> tuple[str, str] | None:
    found = current_subject.get()
    if found is not None:
        return found
    match = _NAMED.match(message)
    return (match.group(1), match.group(2)) if match else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, process, and ``job_id`` /
    ``avatar_id`` / ``webhook_id`` when the line concerns one."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
            "pid": record.process,
        }
        subject = subject_of(record, message)
        if subject is not None:
            entry[f"{subject[0]}_id"] = subject[1]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(verbose: bool) -> None:
    """Set up the root logger for the ``facecast`` command."""
    handler = logging.StreamHandler()
    if os.environ.get("FACECAST_LOG_FORMAT", "text").strip().lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
