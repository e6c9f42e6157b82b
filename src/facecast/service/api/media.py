"""Signed media URLs: finished videos fetched without an API key while the signature is valid.

These are the ``downloadUrl``s of the Miraflow dialect and the redirect targets of Mirage's
``/content``. Range requests are answered (players seek), as by the key-checked download.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from facecast.service.api.deps import ServiceDep
from facecast.service.api.files import MediaFileResponse

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
    service: ServiceDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query()],
) -> MediaFileResponse:
    file = service.verify_media(path, expires, signature)
    media_type = "video/mp4" if file.suffix == ".mp4" else None
    return MediaFileResponse(file, media_type=media_type, filename=file.name)


# Players ask HEAD before seeking; same answer without the body (not repeated in the schema).
router.add_api_route("/media/{path:path}", media, methods=["HEAD"], include_in_schema=False)
