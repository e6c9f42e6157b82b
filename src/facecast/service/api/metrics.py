"""``/metrics`` in the Prometheus text format (prometheus-client).

The figures come from the database and the queue at scrape time, so every web node answers the
same truth about jobs rendered by workers anywhere: jobs by state and dialect, queue depth, render
seconds and frames of finished videos, heartbeat ages of running work, webhook deliveries by
outcome. The attempts this node made to deliver webhooks are counted in process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from facecast.service.domain import Service
from facecast.service.models import Avatar, AvatarStatus, Job, JobStatus, utcnow
from facecast.service.webhook_delivery import on_outcome
from facecast.service.webhook_models import WebhookDelivery

router = APIRouter(tags=["Server"])

#: Finished videos whose render speed the frames-per-second gauge averages.
RECENT_RENDERS = 20


class FacecastCollector(Collector):
    """Reads the figures of one ``Service`` when scraped."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        yield from self._jobs()
        yield from self._renders()
        yield from self._heartbeats()
        yield from self._queue()
        yield from self._webhooks()

    def _jobs(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("facecast_jobs", "Video jobs by state and dialect", labels=["status", "api"])
        with self.service.db.session() as session:
            rows = session.execute(
                select(Job.status, Job.api, func.count())
                .where(Job.deleted_at.is_(None))
                .group_by(Job.status, Job.api)
            ).all()
        seen = {(status, api): count for status, api, count in rows}
        for status in JobStatus:
            for api in ("miraflow", "mirage"):
                jobs.add_metric([status.value, api], seen.pop((status.value, api), 0))
        for (other, api), count in seen.items():  # a state added later still shows
            jobs.add_metric([other, api], count)
        yield jobs

    def _renders(self) -> Iterator[Metric]:
        """Totals over finished videos (rate() of frames over rate() of seconds is the speed), and
        the mean speed of the latest few."""
        fps = self.service.settings.render_fps
        with self.service.db.session() as session:
            rows = session.execute(
                select(Job.started_at, Job.completed_at, Job.duration)
                .where(
                    Job.status == JobStatus.COMPLETE.value,
                    Job.started_at.is_not(None),
                    Job.duration.is_not(None),
                )
                .order_by(Job.completed_at.desc())
            ).all()
        spans = [
            ((done - start).total_seconds(), duration * fps)
            for start, done, duration in rows
            if start is not None and done is not None and duration is not None
        ]
        seconds = CounterMetricFamily(
            "facecast_render_seconds", "Wall-clock seconds spent rendering finished videos"
        )
        seconds.add_metric([], sum(s for s, _ in spans))
        frames = CounterMetricFamily("facecast_rendered_frames", "Frames of finished videos")
        frames.add_metric([], sum(f for _, f in spans))
        recent = [(s, f) for s, f in spans[:RECENT_RENDERS] if s > 0]
        speed = GaugeMetricFamily(
            "facecast_render_frames_per_second",
            f"Mean frames per second of the last {RECENT_RENDERS} renders",
        )
        speed.add_metric([], sum(f for _, f in recent) / sum(s for s, _ in recent) if recent else 0.0)
        yield from (seconds, frames, speed)

    def _heartbeats(self) -> Iterator[Metric]:
        now = utcnow()
        ages = GaugeMetricFamily(
            "facecast_heartbeat_age_seconds",
            "Seconds since each running job or preparing avatar last beat",
            labels=["kind", "id", "worker"],
        )
        with self.service.db.session() as session:
            jobs = session.execute(
                select(Job.id, Job.worker, Job.heartbeat_at).where(Job.status == JobStatus.RUNNING.value)
            ).all()
            avatars = session.execute(
                select(Avatar.id, Avatar.heartbeat_at).where(Avatar.status == AvatarStatus.PREPARING.value)
            ).all()
        for job_id, worker, beat in jobs:
            if beat is not None:
                ages.add_metric(["job", job_id, worker or ""], (now - beat).total_seconds())
        for avatar_id, beat in avatars:
            if beat is not None:
                ages.add_metric(["avatar", avatar_id, ""], (now - beat).total_seconds())
        yield ages

    def _queue(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "facecast_queue_depth", "Messages waiting in the job queue (due or scheduled)"
        )
        queue = self.service.queue
        if queue is not None:
            depth.add_metric([], queue.huey.pending_count() + queue.huey.scheduled_count())
        yield depth

    def _webhooks(self) -> Iterator[Metric]:
        deliveries = GaugeMetricFamily(
            "facecast_webhook_deliveries",
            "Webhook deliveries by outcome (pending, delivered, failed)",
            labels=["status"],
        )
        with self.service.db.session() as session:
            rows = session.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            ).all()
        counts = {"pending": 0, "delivered": 0, "failed": 0, **{status: count for status, count in rows}}
        for status, count in counts.items():
            deliveries.add_metric([status], count)
        yield deliveries


#: Delivery attempts made by this process, by outcome (delivered, retry, failed).
ATTEMPTS = Counter(
    "facecast_webhook_attempts", "Webhook delivery attempts by this node, by outcome", labelnames=["outcome"]
)
on_outcome.append(lambda outcome: ATTEMPTS.labels(outcome=outcome).inc())


_lock = threading.Lock()


def _registry(request: Request) -> CollectorRegistry:
    """This app's registry: the service's figures, this node's delivery attempts, the process."""
    with _lock:
        registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
        if registry is None:
            registry = CollectorRegistry()
            registry.register(FacecastCollector(request.app.state.service))
            registry.register(ATTEMPTS)
            ProcessCollector(registry=registry)
            request.app.state.metrics_registry = registry
    return registry


@router.get("/metrics", summary="Metrics (Prometheus text format)", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(_registry(request)), media_type=CONTENT_TYPE_LATEST)
