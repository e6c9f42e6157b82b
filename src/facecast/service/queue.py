"""The job queue: Huey, carrying nothing but job ids.

``sqlite`` (a ``SqliteHuey`` file in the data dir) is the embedded default; ``redis`` and
``postgres`` point the same task at a shared queue for workers on other machines. The database row,
not the queue, says what a job is and where it stands, so a lost or duplicated message is harmless:
a worker claims the row before it renders and skips jobs that are not waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from huey import Huey, PostgresHuey, RedisHuey, SqliteHuey

from facecast.service.settings import Settings

log = logging.getLogger(__name__)

TASK_NAME = "render_video"


def make_huey(settings: Settings) -> Huey:
    name = settings.queue_name
    if settings.queue_backend == "redis":
        return RedisHuey(name, url=settings.queue_url, results=False)
    if settings.queue_backend == "postgres":
        return PostgresHuey(name, dsn=settings.queue_url, results=False)
    settings.ensure_dirs()
    return SqliteHuey(name, filename=settings.queue_url, results=False, timeout=30)


class JobQueue:
    """Enqueue job ids; in a worker, ``runner`` is what the task calls with each id."""

    def __init__(self, settings: Settings, runner: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.huey = make_huey(settings)
        self._runner = runner

        def render_video(job_id: str) -> None:
            if self._runner is None:
                raise RuntimeError("this process cannot run jobs (no runner)")
            self._runner(job_id)

        self._task = self.huey.task(name=TASK_NAME)(render_video)

    def set_runner(self, runner: Callable[[str], None]) -> None:
        self._runner = runner

    def enqueue(self, job_id: str) -> None:
        self._task(job_id)
        log.info("job %s enqueued", job_id)

    def pending_job_ids(self) -> set[str]:
        """Ids of the jobs whose messages wait in the queue."""
        ids: set[str] = set()
        for task in self.huey.pending():
            args = task.args or ()
            if args:
                ids.add(str(args[0]))
        return ids

    def close(self) -> None:
        storage = self.huey.storage
        close = getattr(storage, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # pragma: no cover - best effort at shutdown
                log.debug("closing the queue failed", exc_info=True)
