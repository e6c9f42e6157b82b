"""The job queue: Huey, carrying nothing but ids (of video jobs, and of avatars to prepare).

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
#: The task that prepares an avatar whose kind is prepared by the worker (video avatars).
AVATAR_TASK_NAME = "prepare_avatar"


def make_huey(settings: Settings) -> Huey:
    name = settings.queue_name
    if settings.queue_backend == "redis":
        return RedisHuey(name, url=settings.queue_url, results=False)
    if settings.queue_backend == "postgres":
        return PostgresHuey(name, dsn=settings.queue_url, results=False)
    settings.ensure_dirs()
    return SqliteHuey(name, filename=settings.queue_url, results=False, timeout=30)


class JobQueue:
    """Enqueue job (and avatar) ids; in a worker, the runners are what the tasks call with each id."""

    def __init__(
        self,
        settings: Settings,
        runner: Callable[[str], None] | None = None,
        avatar_runner: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.huey = make_huey(settings)
        self._runner = runner
        self._avatar_runner = avatar_runner

        def render_video(job_id: str) -> None:
            if self._runner is None:
                raise RuntimeError("this process cannot run jobs (no runner)")
            self._runner(job_id)

        def prepare_avatar(avatar_id: str) -> None:
            if self._avatar_runner is None:
                raise RuntimeError("this process cannot prepare avatars (no runner)")
            self._avatar_runner(avatar_id)

        self._task = self.huey.task(name=TASK_NAME)(render_video)
        self._avatar_task = self.huey.task(name=AVATAR_TASK_NAME)(prepare_avatar)

    def set_runner(
        self, runner: Callable[[str], None], avatar_runner: Callable[[str], None] | None = None
    ) -> None:
        self._runner = runner
        if avatar_runner is not None:
            self._avatar_runner = avatar_runner

    def enqueue(self, job_id: str, *, delay: float = 0.0) -> None:
        """Queue a job's id; with ``delay``, the message becomes visible only after that many seconds."""
        if delay > 0:
            self._task.schedule(args=(job_id,), delay=delay)
            log.info("job %s enqueued to run in %.0f s", job_id, delay)
            return
        self._task(job_id)
        log.info("job %s enqueued", job_id)

    def enqueue_avatar(self, avatar_id: str, *, delay: float = 0.0) -> None:
        if delay > 0:
            self._avatar_task.schedule(args=(avatar_id,), delay=delay)
            log.info("avatar %s enqueued for preparation in %.0f s", avatar_id, delay)
            return
        self._avatar_task(avatar_id)
        log.info("avatar %s enqueued for preparation", avatar_id)

    def _pending(self, task_name: str) -> set[str]:
        ids: set[str] = set()
        for task in [*self.huey.pending(), *self.huey.scheduled()]:
            args = task.args or ()
            if args and getattr(task, "name", TASK_NAME) == task_name:
                ids.add(str(args[0]))
        return ids

    def pending_job_ids(self) -> set[str]:
        """Ids of the jobs whose messages wait in the queue."""
        return self._pending(TASK_NAME)

    def pending_avatar_ids(self) -> set[str]:
        """Ids of the avatars whose preparation messages wait in the queue."""
        return self._pending(AVATAR_TASK_NAME)

    def close(self) -> None:
        storage = self.huey.storage
        close = getattr(storage, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # pragma: no cover - best effort at shutdown
                log.debug("closing the queue failed", exc_info=True)
