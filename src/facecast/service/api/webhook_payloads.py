"""What a webhook carries: the dialect's own object, exactly as its GET answers it (Miraflow's
status body with its ``jobId``, Mirage's Video object, Miraflow's avatar)."""

from __future__ import annotations

from typing import Any

from facecast.service.api import miraflow, mirage, share
from facecast.service.models import Avatar, Job
from facecast.service.settings import Settings
from facecast.service.webhook_delivery import register_payload


def _miraflow_video(job: Job) -> dict[str, Any]:
    """The status body (``GET /api/video/{jobId}/status``) with the ``jobId`` it answers for."""
    status = miraflow.job_status(job).model_dump(mode="json", by_alias=True, exclude_none=True)
    return {"jobId": job.id, **status}


def _mirage_video(job: Job, public_url: str) -> dict[str, Any]:
    """The Video object; its ``share_link_url`` needs ``FACECAST_PUBLIC_URL`` (no request here
    says which host the receiver would reach this server by)."""
    token = share._base.set(public_url.rstrip("/"))
    try:
        return mirage.video_object(job).model_dump(mode="json", by_alias=True)
    finally:
        share._base.reset(token)


def _avatar(avatar: Avatar) -> dict[str, Any]:
    return miraflow._avatar(avatar).model_dump(mode="json", by_alias=True)


def install(settings: Settings) -> None:
    public_url = settings.public_url if settings.share_links and settings.public_url else ""
    register_payload("video", "miraflow", _miraflow_video)
    register_payload("video", "mirage", lambda job: _mirage_video(job, public_url))
    register_payload("avatar", "miraflow", _avatar)
