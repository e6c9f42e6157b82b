"""The sweeper: media that no row accounts for any more is removed.

A server killed in the middle of a create leaves the uploaded portrait and audio on disk with no
row (nobody could see or delete them); a job the reaper failed keeps its scratch folder; a kill
during a write leaves a ``.part`` file. The sweeper runs at start and then periodically (in the
reaper's thread) and removes, under the media root:

- ``avatars/<id>`` with no avatar row, or whose row is deleted or failed;
- ``uploads/<job id>`` with no job row, or whose job has ended or been deleted;
- ``videos/<video id>.mp4`` with no job row, or whose job was deleted;
- ``tmp/<name>`` scratch folders, except those of running jobs;
- ``*.part`` files a killed write left behind.

Nothing younger than the grace period (``FACECAST_SWEEP_GRACE``) is touched, except the scratch
folders and uploads of jobs that have ended: a create writes its files *before* its row, so a
young folder with no row may belong to a request still in flight (here or in another process).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from facecast.service.models import Avatar, AvatarStatus, Job, JobStatus

if TYPE_CHECKING:
    from facecast.service.domain import Service

log = logging.getLogger(__name__)

#: Folders that only cache the object store's media when there is one.
_CACHED = ("avatars", "uploads", "videos", "speeches", "voices", "previews")

_ENDED = (JobStatus.COMPLETE.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)


@dataclass
class SweepReport:
    """What one pass removed (paths relative to the media root)."""

    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _age(path: Path, now: float) -> float:
    """Seconds since anything in ``path`` (a file, or a folder and its direct entries) changed."""
    try:
        newest = path.lstat().st_mtime
        if path.is_dir():
            for entry in path.iterdir():
                newest = max(newest, entry.lstat().st_mtime)
    except OSError:
        return 0.0
    return now - newest


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


class Sweeper:
    """One pass over the media folder against the database (``sweep``)."""

    def __init__(self, service: Service, *, grace: float | None = None) -> None:
        self.service = service
        self.root = service.media.root
        self.grace = service.settings.sweep_grace if grace is None else grace

    def sweep(self) -> SweepReport:
        report = SweepReport()
        now = time.time()
        with self.service.db.session() as session:
            avatars = {
                row.id: row
                for row in session.execute(select(Avatar.id, Avatar.deleted_at, Avatar.status)).all()
            }
            jobs = {
                row.id: row
                for row in session.execute(select(Job.id, Job.video_id, Job.status, Job.deleted_at)).all()
            }
        by_video = {row.video_id: row for row in jobs.values()}

        for path in _entries(self.root / "avatars"):
            row = avatars.get(path.name)
            gone = row is None or row.deleted_at is not None or row.status == AvatarStatus.FAILED.value
            if gone and _age(path, now) >= self.grace:
                self._remove(path, report)
        for path in _entries(self.root / "uploads"):
            job = jobs.get(path.name)
            ended = job is not None and (job.status in _ENDED or job.deleted_at is not None)
            if ended or (job is None and _age(path, now) >= self.grace):
                self._remove(path, report)
        for path in _entries(self.root / "videos"):
            if path.suffix != ".mp4":
                continue
            job = by_video.get(path.stem)
            if (job is None or job.deleted_at is not None) and _age(path, now) >= self.grace:
                self._remove(path, report)
        for path in _entries(self.root / "tmp"):
            job = jobs.get(path.name)
            if job is not None and job.status in _ENDED:
                self._remove(path, report)
            elif (job is None or job.status != JobStatus.RUNNING.value) and _age(path, now) >= self.grace:
                self._remove(path, report)
        if self.service.media.remote is not None:
            self._sweep_cache(now, report)
        for part in self.root.rglob("*.part"):
            if _age(part, now) >= self.grace:
                self._remove(part, report)
        if report.removed:
            log.info(
                "sweeper removed %d orphaned media entries: %s", len(report.removed), report.removed[:20]
            )
        return report

    def _sweep_cache(self, now: float, report: SweepReport) -> None:
        """With an object store, local media are copies: untouched for the grace period, they go."""
        for folder in _CACHED:
            for path in _entries(self.root / folder):
                if path.exists() and _age(path, now) >= self.grace:
                    self._remove(path, report)

    def _remove(self, path: Path, report: SweepReport) -> None:
        rel = str(path.relative_to(self.root))
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:  # read-only or busy now: the next pass tries again
            log.warning("sweeper could not remove %s: %s", rel, exc)
            report.failed.append(rel)
        else:
            report.removed.append(rel)
