"""Signed media URLs: finished videos fetched without an API key while the signature is valid.

These are the ``downloadUrl``s of the Miraflow dialect and the redirect targets of Mirage's
``/content``. Range requests are answered (players seek), as by the key-checked download.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from facecast.service.api.deps import ServiceDep
from facecast.service.api.stored import stored_file

router = APIRouter(tags=["Media"])


@router.get(
    "/media/{path:path}",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The file (HTTP range requests supported)"}
    },
    summary="Fetch a file by its signed URL",
)
def media(
    path: str,
    request: Request,
    service: ServiceDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query()],
) -> Response:
    rel = service.verify_media(path, expires, signature)
    name = rel.rsplit("/", 1)[-1]
    media_type = "video/mp4" if name.endswith(".mp4") else None  # else guessed from the name
    return stored_file(service, request, rel, media_type=media_type, filename=name)


# Players ask HEAD before seeking; same answer without the body (not repeated in the schema).
router.add_api_route("/media/{path:path}", media, methods=["HEAD"], include_in_schema=False)
