"""File answers with RFC 9110 range handling: an invalid ``Range`` header is ignored (200 with the
whole file, as the RFC asks of a server that cannot parse it); an unsatisfiable one stays 416."""

from __future__ import annotations

from starlette.responses import FileResponse, MalformedRangeHeader


class MediaFileResponse(FileResponse):
    """``FileResponse`` that ignores a malformed ``Range`` (``bytes=abc``, ``bytes=100-50``,
    ``items=0-5``) instead of answering a plain-text 400."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []  # no ranges: the whole file
