"""Share links: a finished video's public, unguessable, revocable page that plays it without a key.

``/share/{token}`` is an HTML page with a player, ``/share/{token}/video.mp4`` the file (range
requests answered). The token is random (144 bits), stored on the job; revoking replaces or clears
it, so an old link stops working at once. ``FACECAST_SHARE_LINKS=false`` turns every link off.

Video objects are built without the request at hand, so the base URL links start with is set per
request by ``ShareBase`` (a context variable the views read through ``share_link``).
"""

from __future__ import annotations

import html
from contextvars import ContextVar

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from facecast.service import captions
from facecast.service.api.deps import ServiceDep
from facecast.service.api.links import public_base_url
from facecast.service.api.stored import stored_file
from facecast.service.models import Job, JobStatus
from facecast.service.settings import Settings

router = APIRouter(tags=["Share"])

#: The base URL share links start with in this request ("" when links are off).
_base: ContextVar[str] = ContextVar("facecast_share_base", default="")


class ShareBase:
    """Sets the share-link base for each request, as signed links get theirs
    (``links.public_base_url``: the configured public URL, else a trusted ``Host`` only); nothing
    when share links are off."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.settings.share_links:
            await self.app(scope, receive, send)
            return
        token = _base.set(public_base_url(Request(scope), self.settings))
        try:
            await self.app(scope, receive, send)
        finally:
            _base.reset(token)


def share_link(job: Job) -> str | None:
    """The public link of a COMPLETE video, or None (not complete, revoked, or links off)."""
    base = _base.get()
    if not base or not job.share_token or job.status != JobStatus.COMPLETE.value or job.deleted_at:
        return None
    return f"{base}/share/{job.share_token}"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{margin:0;background:#111;color:#eee;font:16px system-ui,sans-serif;display:flex;
flex-direction:column;align-items:center;justify-content:center;min-height:100vh}}
video{{max-width:96vw;max-height:86vh;background:#000}}p{{opacity:.7}}</style></head>
<body><video src="{src}" controls playsinline preload="metadata"></video><p>{title}</p></body></html>
"""


@router.get("/share/{token}", response_class=HTMLResponse, summary="A shared video's page")
def share_page(token: str, service: ServiceDep) -> HTMLResponse:
    job = captions.shared_video(service, token)
    src = f"/share/{html.escape(token, quote=True)}/video.mp4"
    return HTMLResponse(_PAGE.format(title=html.escape(job.name or "Video"), src=src))


def share_file(token: str, request: Request, service: ServiceDep) -> Response:
    job = captions.shared_video(service, token)
    return stored_file(service, request, service.video_rel(job), redirect=True)


router.add_api_route(
    "/share/{token}/video.mp4", share_file, methods=["GET"], response_class=FileResponse, summary="A shared video's file"
)
router.add_api_route("/share/{token}/video.mp4", share_file, methods=["HEAD"], include_in_schema=False)
