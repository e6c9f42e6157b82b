"""Answers with a stored file wherever it lives: the local media folder (a ``FileResponse``), or
the object store, streamed through with HTTP ranges, or, when ``FACECAST_STORAGE_REDIRECT`` is on
and the caller allows it, a redirect to a presigned URL of the store.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator

from fastapi import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from facecast.errors import NotFound
from facecast.service.api.files import MediaFileResponse
from facecast.service.domain import Service
from facecast.service.objects import ObjectInfo, ObjectStore

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def stored_file(
    service: Service,
    request: Request,
    rel: str,
    *,
    media_type: str | None = "video/mp4",
    filename: str | None = None,
    redirect: bool = False,
) -> Response:
    """The file ``rel`` as an HTTP answer (404 when it is stored nowhere)."""
    media = service.media
    if media.remote is None:
        path = media.path(rel)
        if not path.is_file():
            raise NotFound("File not found")
        return MediaFileResponse(path, media_type=media_type, filename=filename)
    if redirect and service.settings.storage_redirect:
        url = media.remote.presigned_url(rel, service.settings.storage_redirect_ttl, filename=filename)
        return RedirectResponse(url, status_code=302)
    info = media.remote.info(rel)
    if info is None:
        raise NotFound("File not found")
    return _ranged(request, media.remote, rel, info, media_type, filename)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """A single ``bytes=`` range as (first, last), None for the whole file (no header, a malformed
    or multi-range one: RFC 9110 lets a server ignore those), False when unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            return False
        return max(0, size - count), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # malformed: ignored
    if start >= size:
        return False
    return start, end


def _ranged(
    request: Request,
    store: ObjectStore,
    rel: str,
    info: ObjectInfo,
    media_type: str | None,
    filename: str | None,
) -> Response:
    if media_type is None:
        media_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
    headers = {"accept-ranges": "bytes", "etag": f'"{info.etag}"'}
    if filename:
        headers["content-disposition"] = f'attachment; filename="{filename}"'
    wanted = parse_range(request.headers.get("range"), info.size)
    if wanted is False:
        headers["content-range"] = f"bytes */{info.size}"
        return Response(status_code=416, headers=headers)
    start, end = wanted if isinstance(wanted, tuple) else (0, info.size - 1)
    status = 206 if isinstance(wanted, tuple) else 200
    if status == 206:
        headers["content-range"] = f"bytes {start}-{end}/{info.size}"
    headers["content-length"] = str(end - start + 1)
    if request.method == "HEAD" or info.size == 0:
        return Response(status_code=status, headers=headers, media_type=media_type)
    body: Iterator[bytes] = store.read_range(rel, start, end)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media_type)
