"""Durable jobs: the worker side (claim, heartbeat, progress, cancel, result) and the reaper.

A worker claims a queued row with a fresh token before rendering; every write it makes afterwards
checks that token, so a job handed to another worker can't be overwritten by a stale one. While it
runs, a heartbeat thread stamps the row. The reaper (in the server) re-queues, a bounded number of
times, any running job whose heartbeat stopped (a killed worker, a machine gone) or fails it with a
reason; at start-up it also re-queues waiting jobs whose queue message was lost. Avatars the worker
prepares (video avatars) go through the same claim, heartbeat and reaper on their own rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from pathlib import Path

from sqlalchemy import select

from facecast.errors import (
    FacecastError,
    InvalidInput,
    NotFound,
    NotSupported,
    RenderCancelled,
    StorageUnavailable,
)
from facecast.logs import about
from facecast.service import leases
from facecast.service.domain import Service
from facecast.service.faults import probe_writable, storage_fault
from facecast.service.leases import AVATARS, JOBS, RetryPolicy
from facecast.service.models import Avatar, AvatarStatus, Job, JobStatus
from facecast.service.sweeper import Sweeper

log = logging.getLogger(__name__)

#: Progress and cancel checks touch the database at most this often.
_POLL_SECONDS = 0.4


class RunningJob:
    """The context a job renders in: progress, cancel checks and a heartbeat, all on its row."""

    def __init__(self, service: Service, job: Job, token: str, work_dir: Path) -> None:
        self.service = service
        self.job_id = job.id
        self.token = token
        self.work_dir = work_dir
        self.started = time.monotonic()
        self.lost = False
        self.timed_out = False
        self.stopping = threading.Event()
        self._progress = 0.0
        self._written_progress = -1.0
        self._last_write = 0.0
        self._last_cancel_check = 0.0
        self._cancel = False
        self._lock = threading.Lock()
        self._heartbeat = threading.Thread(target=self._beat, name=f"heartbeat-{job.id}", daemon=True)

    # --- JobContext ------------------------------------------------------------------------------
    def report(self, fraction: float) -> None:
        self._progress = max(self._progress, min(1.0, float(fraction)))
        now = time.monotonic()
        if now - self._last_write >= _POLL_SECONDS and self._progress - self._written_progress >= 0.01:
            self._write(now)

    def should_cancel(self) -> bool:
        if self.lost or self.stopping.is_set():
            return True
        if time.monotonic() - self.started > self.service.settings.job_timeout:
            self.timed_out = True
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= _POLL_SECONDS:
            self._last_cancel_check = now
            with self.service.db.session() as session:
                row = session.execute(
                    select(Job.cancel_requested, Job.claim_token).where(Job.id == self.job_id)
                ).first()
            if row is None or row.claim_token != self.token:
                self.lost = True
            elif row.cancel_requested:
                self._cancel = True
        return self._cancel or self.lost

    # --- heartbeat -------------------------------------------------------------------------------
    def _write(self, now: float) -> None:
        with self._lock:
            self._last_write = now
            progress = self._progress
            if not leases.beat(self.service, JOBS, self.job_id, self.token, progress=progress):
                self.lost = True
            else:
                self._written_progress = progress

    def _beat(self) -> None:
        interval = self.service.settings.heartbeat_interval
        while not self.stopping.wait(interval):
            try:
                self._write(time.monotonic())
            except Exception:  # a busy database must not kill the heartbeat
                log.warning("job %s: heartbeat failed", self.job_id, exc_info=True)

    def __enter__(self) -> RunningJob:
        self._heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._heartbeat.join(timeout=5)


class PreparingAvatar:
    """The context an avatar is prepared in: a heartbeat on its row, and a stop when it is deleted,
    handed to another worker, or the worker shuts down."""

    def __init__(self, service: Service, avatar_id: str, token: str) -> None:
        self.service = service
        self.avatar_id = avatar_id
        self.token = token
        self.lost = self.deleted = False
        self.stopping = threading.Event()
        self._last_check = 0.0
        self._heartbeat = threading.Thread(target=self._beat, name=f"heartbeat-{avatar_id}", daemon=True)

    def report(self, fraction: float) -> None:
        """Preparation progress is not recorded (it takes seconds); the heartbeat shows life."""

    def should_cancel(self) -> bool:
        if self.lost or self.deleted or self.stopping.is_set():
            return True
        now = time.monotonic()
        if now - self._last_check >= _POLL_SECONDS:
            self._last_check = now
            with self.service.db.session() as session:
                row = session.execute(
                    select(Avatar.claim_token, Avatar.deleted_at).where(Avatar.id == self.avatar_id)
                ).first()
            if row is None or row.claim_token != self.token:
                self.lost = True
            elif row.deleted_at is not None:
                self.deleted = True
        return self.lost or self.deleted

    def _beat(self) -> None:
        while not self.stopping.wait(self.service.settings.heartbeat_interval):
            try:
                if not leases.beat(self.service, AVATARS, self.avatar_id, self.token):
                    self.lost = True
            except Exception:  # a busy database must not kill the heartbeat
                log.warning("avatar %s: heartbeat failed", self.avatar_id, exc_info=True)

    def __enter__(self) -> PreparingAvatar:
        self._heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._heartbeat.join(timeout=5)


class Worker:
    """Runs the jobs (and avatar preparations) the queue hands this process."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._running: dict[str, RunningJob] = {}
        self._preparing: dict[str, PreparingAvatar] = {}
        self._lock = threading.Lock()
        self.shutting_down = False

    def claim(self, job_id: str) -> tuple[Job, str] | None:
        return leases.claim(self.service, JOBS, job_id, self.name)

    def run(self, job_id: str) -> None:
        """The queue task: render the job if it is still waiting; never raises for a job's failure."""
        if self.shutting_down:
            raise RuntimeError("worker is shutting down")
        with about("job", job_id):  # every log line of this render carries the job id
            self._run(job_id)

    def _run(self, job_id: str) -> None:
        claimed = self.claim(job_id)
        if claimed is None:
            log.info("job %s: not waiting any more (cancelled, done or taken); skipped", job_id)
            return
        job, token = claimed
        log.info("job %s: started (attempt %d) on %s", job_id, job.attempts, self.name)
        service = self.service
        try:
            try:
                work_dir = service.media.work_dir(job_id)
            except OSError as exc:  # the media folder cannot be written: say so, never "worker lost"
                fault = storage_fault(exc) or probe_writable(service.media.root / "tmp")
                self._storage_failure(
                    job, token, fault or StorageUnavailable(f"The work folder cannot be made: {exc}")
                )
                return
            running = RunningJob(service, job, token, work_dir)
            with self._lock:
                self._running[job_id] = running
            with running:
                self._render(job, token, running)
        finally:
            with self._lock:
                self._running.pop(job_id, None)
            service.media.drop_work_dir(job_id)
            # With an object store the local copies were only scratch: the store has them.
            service.media.evict(service.media.upload_dir(job_id))
            service.media.evict(service.media.video_file(job.video_id))

    def _render(self, job: Job, token: str, running: RunningJob) -> None:
        service, job_id = self.service, job.id
        try:
            video = service.render_job(job, running)
        except RenderCancelled:
            self._after_cancel(running)
        except (InvalidInput, NotFound, NotSupported) as exc:
            log.info("job %s: failed: %s", job_id, exc)
            service.finish_job(job_id, token, JobStatus.FAILED, code=exc.code, message=str(exc))
        except Exception as exc:
            # A full or read-only disk shows up as many errors (the encoder's, an OSError, ...):
            # whatever was raised, check the storage before blaming the render.
            fault = storage_fault(exc) or probe_writable(running.work_dir)
            if fault is not None:
                self._storage_failure(job, token, fault)
            elif isinstance(exc, FacecastError):
                log.warning("job %s: render error: %s", job_id, exc)
                service.finish_job(job_id, token, JobStatus.FAILED, code=exc.code, message=str(exc))
            else:
                log.exception("job %s: unexpected error", job_id)
                self._retry_or_fail(
                    job, token, f"Internal error while rendering: {type(exc).__name__}: {exc}"
                )
        else:
            if running.lost:
                log.warning("job %s: finished after losing its claim; result dropped", job_id)
            elif service.finish_job(job_id, token, JobStatus.COMPLETE, video=video):
                log.info("job %s: complete (%.1f s, %d bytes)", job_id, video.duration, video.size_bytes)

    def _storage_failure(self, job: Job, token: str, fault: StorageUnavailable) -> None:
        """A storage fault may pass (space freed, disk remounted): try again later, each time
        waiting twice as long; after the last attempt fail with the fault as the reason."""
        policy = RetryPolicy.of(self.service.settings)
        if policy.may_retry(job.attempts):
            delay = policy.storage_delay(job.attempts)
            reason = f"{fault.code}: {fault}; trying again in {delay:.0f} s"
            log.warning("job %s: %s", job.id, reason)
            if requeue(self.service, job.id, token, reason=reason, delay=delay):
                return
        log.warning("job %s: failed: %s", job.id, fault)
        self.service.finish_job(
            job.id, token, JobStatus.FAILED, code=fault.code, message=f"{fault} (tried {job.attempts} times)"
        )

    # --- avatars ---------------------------------------------------------------------------------
    def claim_avatar(self, avatar_id: str) -> tuple[Avatar, str] | None:
        return leases.claim(self.service, AVATARS, avatar_id, self.name)

    def prepare_avatar(self, avatar_id: str) -> None:
        """The queue task: prepare the avatar if it is still waiting; never raises for its failure."""
        if self.shutting_down:
            raise RuntimeError("worker is shutting down")
        with about("avatar", avatar_id):
            self._prepare_avatar(avatar_id)

    def _prepare_avatar(self, avatar_id: str) -> None:
        claimed = self.claim_avatar(avatar_id)
        if claimed is None:
            log.info("avatar %s: not waiting any more (deleted, done or taken); skipped", avatar_id)
            return
        avatar, token = claimed
        service = self.service
        log.info("avatar %s: preparing (attempt %d) on %s", avatar_id, avatar.attempts, self.name)
        started = time.monotonic()
        preparing = PreparingAvatar(service, avatar_id, token)
        with self._lock:
            self._preparing[avatar_id] = preparing
        try:
            with preparing:
                try:
                    warnings = service.prepare_queued_avatar(avatar, preparing)
                except Exception as exc:
                    if preparing.deleted or preparing.lost or preparing.stopping.is_set():
                        log.info("avatar %s: preparation stopped (deleted, taken or shutdown)", avatar_id)
                    elif (fault := storage_fault(exc)) is not None and self._avatar_storage_retry(
                        avatar, token, fault
                    ):
                        pass
                    elif isinstance(exc, FacecastError) and not isinstance(exc, RenderCancelled):
                        log.info("avatar %s: failed: %s", avatar_id, exc)
                        service.finish_avatar(avatar_id, token, AvatarStatus.FAILED, message=str(exc))
                    else:
                        log.exception("avatar %s: unexpected error", avatar_id)
                        reason = f"Internal error while preparing the avatar: {type(exc).__name__}: {exc}"
                        if not RetryPolicy.of(service.settings).may_retry(
                            avatar.attempts
                        ) or not requeue_avatar(service, avatar_id, token, reason=reason):
                            service.finish_avatar(avatar_id, token, AvatarStatus.FAILED, message=reason)
                else:
                    if service.finish_avatar(avatar_id, token, AvatarStatus.READY):
                        log.info(
                            "avatar %s: ready in %.1f s%s",
                            avatar_id,
                            time.monotonic() - started,
                            f" ({'; '.join(warnings)})" if warnings else "",
                        )
        finally:
            with self._lock:
                self._preparing.pop(avatar_id, None)
            if preparing.deleted or _deleted(service, avatar_id):
                service.media.delete(service.media.avatar_dir(avatar_id))

    def _avatar_storage_retry(self, avatar: Avatar, token: str, fault: StorageUnavailable) -> bool:
        """An avatar whose media could not be read or written (store down, disk full) waits and is
        tried again, doubling the wait, like a job; False once its attempts are spent."""
        policy = RetryPolicy.of(self.service.settings)
        if not policy.may_retry(avatar.attempts):
            return False
        delay = policy.storage_delay(avatar.attempts)
        reason = f"{fault.code}: {fault}; trying again in {delay:.0f} s"
        log.warning("avatar %s: %s", avatar.id, reason)
        return requeue_avatar(self.service, avatar.id, token, reason=reason, delay=delay)

    def _after_cancel(self, running: RunningJob) -> None:
        service, job_id, token = self.service, running.job_id, running.token
        if running.lost:
            log.warning("job %s: lost its claim; stopped", job_id)
        elif running.stopping.is_set():
            log.info("job %s: interrupted by shutdown", job_id)
        elif running.timed_out:
            service.finish_job(
                job_id,
                token,
                JobStatus.FAILED,
                code="timeout",
                message=f"Rendering took longer than the limit of {service.settings.job_timeout:.0f} s",
            )
        else:
            service.finish_job(
                job_id, token, JobStatus.CANCELLED, code="cancelled", message="The video was cancelled"
            )
            log.info("job %s: cancelled", job_id)

    def _retry_or_fail(self, job: Job, token: str, reason: str) -> None:
        if RetryPolicy.of(self.service.settings).may_retry(job.attempts):
            if requeue(self.service, job.id, token, reason=reason):
                return
        self.service.finish_job(job.id, token, JobStatus.FAILED, code="internal_error", message=reason)

    def release_all(self) -> None:
        """On shutdown: hand running jobs back to the queue (the attempt does not count)."""
        self.shutting_down = True
        with self._lock:
            running = list(self._running.values())
            preparing = list(self._preparing.values())
        for avatar in preparing:
            avatar.stopping.set()
            try:
                requeue_avatar(
                    self.service,
                    avatar.avatar_id,
                    avatar.token,
                    reason="worker shut down",
                    count_attempt=False,
                )
                log.info("avatar %s: handed back to the queue (shutdown)", avatar.avatar_id)
            except Exception:
                log.exception("avatar %s: could not hand back", avatar.avatar_id)
        for job in running:
            job.stopping.set()
            try:
                requeue(self.service, job.job_id, job.token, reason="worker shut down", count_attempt=False)
                log.info("job %s: handed back to the queue (shutdown)", job.job_id)
            except Exception:
                log.exception("job %s: could not hand back", job.job_id)


def requeue(
    service: Service,
    job_id: str,
    token: str | None,
    *,
    reason: str,
    count_attempt: bool = True,
    delay: float = 0.0,
) -> bool:
    """Put a running job back in the queue (if ``token`` still owns it, when given), to run again
    after ``delay`` seconds."""
    return leases.release(
        service, JOBS, job_id, token, reason=reason, count_attempt=count_attempt, delay=delay
    )


def _deleted(service: Service, avatar_id: str) -> bool:
    with service.db.session() as session:
        deleted_at = session.scalar(select(Avatar.deleted_at).where(Avatar.id == avatar_id))
    return deleted_at is not None


def requeue_avatar(
    service: Service,
    avatar_id: str,
    token: str | None,
    *,
    reason: str,
    count_attempt: bool = True,
    delay: float = 0.0,
) -> bool:
    """Put an avatar being prepared back in the queue (if ``token`` still owns it, when given)."""
    return leases.release(
        service, AVATARS, avatar_id, token, reason=reason, count_attempt=count_attempt, delay=delay
    )


# --- the reaper -----------------------------------------------------------------------------------
def reap(service: Service, *, now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """Deal with running jobs whose heartbeat stopped. Returns (job id, what was done) pairs."""
    settings = service.settings
    policy = RetryPolicy.of(settings)
    stale = leases.stale(
        service, JOBS, Job.id, Job.claim_token, Job.attempts, Job.cancel_requested, Job.worker, now=now
    )
    actions: list[tuple[str, str]] = []
    for job_id, token, attempts, cancel_requested, worker in stale:
        if cancel_requested:
            if service.finish_job(
                job_id, token, JobStatus.CANCELLED, code="cancelled", message="The video was cancelled"
            ):
                actions.append((job_id, "cancelled"))
        elif policy.may_retry(attempts):
            reason = f"the worker {worker} stopped responding; retrying (attempt {attempts} of {settings.max_attempts})"
            if requeue(service, job_id, token, reason=reason):
                log.warning("job %s: %s", job_id, reason)
                actions.append((job_id, "requeued"))
        else:
            message = (
                f"The worker rendering this video stopped responding {attempts} times "
                f"(the last one was {worker}); giving up"
            )
            if service.finish_job(job_id, token, JobStatus.FAILED, code="worker_lost", message=message):
                log.warning("job %s: failed: %s", job_id, message)
                actions.append((job_id, "failed"))
    return actions


def requeue_lost_messages(service: Service, *, older_than: float = 0.0) -> list[str]:
    """Queue again the waiting jobs that have no message in the queue (e.g. enqueued into a queue
    that was lost, or a crash between the commit and the enqueue). Duplicates are harmless."""
    return leases.requeue_lost(service, JOBS, older_than=older_than)


def reap_avatars(service: Service, *, now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """``reap`` for avatars being prepared: re-queue (a bounded number of times) or fail those whose
    worker stopped responding; deleted ones are simply dropped."""
    settings = service.settings
    policy = RetryPolicy.of(settings)
    stale = leases.stale(
        service, AVATARS, Avatar.id, Avatar.claim_token, Avatar.attempts, Avatar.deleted_at, now=now
    )
    actions: list[tuple[str, str]] = []
    for avatar_id, token, attempts, deleted_at in stale:
        if deleted_at is not None:
            message = "The avatar was deleted while it was being prepared"
            if service.finish_avatar(avatar_id, token, AvatarStatus.FAILED, message=message):
                actions.append((avatar_id, "dropped"))
        elif policy.may_retry(attempts):
            reason = f"the worker preparing it stopped responding; retrying (attempt {attempts} of {settings.max_attempts})"
            if requeue_avatar(service, avatar_id, token, reason=reason):
                log.warning("avatar %s: %s", avatar_id, reason)
                actions.append((avatar_id, "requeued"))
        else:
            message = f"The worker preparing this avatar stopped responding {attempts} times; giving up"
            if service.finish_avatar(avatar_id, token, AvatarStatus.FAILED, message=message):
                log.warning("avatar %s: failed: %s", avatar_id, message)
                actions.append((avatar_id, "failed"))
    return actions


def requeue_lost_avatars(service: Service, *, older_than: float = 0.0) -> list[str]:
    """``requeue_lost_messages`` for avatars waiting to be prepared."""
    return leases.requeue_lost(service, AVATARS, older_than=older_than)


class Reaper:
    """A thread in the server that runs ``reap`` every ``reaper_interval`` seconds."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="facecast-reaper", daemon=True)

    def start(self) -> None:
        try:
            requeue_lost_messages(self.service)
            requeue_lost_avatars(self.service)
        except Exception:
            log.exception("could not check the queue for lost jobs")
        self._sweep()
        self._thread.start()

    #: How often (seconds) waiting jobs are checked against the queue while the server runs.
    ORPHAN_CHECK_EVERY = 60.0

    def _sweep(self) -> None:
        try:
            Sweeper(self.service).sweep()
        except Exception:
            log.exception("sweeper pass failed")

    def _loop(self) -> None:
        last_orphan_check = last_sweep = time.monotonic()
        while True:
            try:
                reap(self.service)
                reap_avatars(self.service)
                if time.monotonic() - last_orphan_check > self.ORPHAN_CHECK_EVERY:
                    last_orphan_check = time.monotonic()
                    requeue_lost_messages(self.service, older_than=self.ORPHAN_CHECK_EVERY)
                    requeue_lost_avatars(self.service, older_than=self.ORPHAN_CHECK_EVERY)
            except Exception:
                log.exception("reaper pass failed")
            if time.monotonic() - last_sweep > self.service.settings.sweep_interval:
                last_sweep = time.monotonic()
                self._sweep()
            if self._stop.wait(self.service.settings.reaper_interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
