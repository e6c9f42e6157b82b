"""The domain layer: what the service does, independent of which API dialect asked.

Both dialects (``api/miraflow.py``, ``api/mirage.py``) are thin views over ``Service``, a facade
composed of one part per resource (``resources/``: voices, avatars, speeches, videos), stock
seeding (``stock.py``) and the worker's side (``rendering.py``). It checks ownership (another
account's ids are simply not found), validates input with typed errors, writes rows and media,
queues jobs and, in the worker, renders them. The shapes it takes and gives are in ``uploads.py``.
"""

from __future__ import annotations

from facecast.service.rendering import Rendering
from facecast.service.stock import StockSeeding
from facecast.service.uploads import (
    JobContext,
    Page,
    PrepareContext,
    RenderedVideo,
    Upload,
    VideoRequest,
    iso,
    shown_id,
    sniff,
    unix,
)

__all__ = [
    "JobContext",
    "Page",
    "PrepareContext",
    "RenderedVideo",
    "Service",
    "Upload",
    "VideoRequest",
    "iso",
    "shown_id",
    "sniff",
    "unix",
]


class Service(Rendering, StockSeeding):
    """One per process: the web server and each worker build their own (``api/deps.py`` hands the
    web process's to every view)."""
