"""The worker process: a Huey consumer whose tasks render a job, or prepare an avatar, by id.

``facecast serve`` starts it as a child process (the consumer installs signal handlers, which only
work in a main thread); ``facecast worker`` runs it alone, e.g. on other machines sharing a Redis or
PostgreSQL queue. On SIGTERM it hands the jobs it was rendering back to the queue.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from facecast.service.domain import Service
from facecast.service.jobs import Worker
from facecast.service.queue import JobQueue
from facecast.service.settings import Settings, get_settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings | None = None, *, workers: int | None = None) -> None:
    """Run a consumer until SIGTERM/SIGINT."""
    settings = settings or get_settings()
    queue = JobQueue(settings)
    service = Service(settings, queue=queue)
    worker = Worker(service)
    queue.set_runner(worker.run, worker.prepare_avatar)

    consumer = queue.huey.create_consumer(
        workers=workers or settings.workers,
        worker_type="thread",
        periodic=False,
        initial_delay=0.1,
        max_delay=1.0,
        check_worker_health=True,
    )
    watch_parent()
    if settings.caption_previews:
        from facecast.service.previews import start_previews

        start_previews(service)
    log.info("facecast worker %s: %s queue %r", os.getpid(), settings.queue_backend, settings.queue_name)
    try:
        consumer.run()
    finally:
        # Interrupted (SIGTERM): renders still running in the worker threads go back to the queue.
        worker.release_all()
        queue.close()
        service.db.dispose()


def watch_parent() -> None:
    """In a worker started by ``serve``: stop (SIGTERM to ourselves) when the server is gone."""
    parent = os.environ.get("FACECAST_PARENT_PID")
    if not parent:
        return
    parent_pid = int(parent)

    def _watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                log.warning("the server (pid %d) is gone; worker stopping", parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=_watch, name="parent-watch", daemon=True).start()
