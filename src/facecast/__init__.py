"""Facecast: a portrait (or a short clip) plus speech in, a lip-synced talking-head MP4 out.

The engine (``facecast.engine``) is pure rendering; ``facecast.speech`` makes speech from text;
``facecast.service`` serves the Miraflow and Mirage HTTP APIs over both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from facecast.errors import FacecastError

if TYPE_CHECKING:
    from facecast.client import Client

__version__ = "0.1.0"
__all__ = ["Client", "FacecastError", "__version__"]


def __getattr__(name: str) -> Any:
    # The client pulls in httpx; the engine and the worker import ``facecast`` without needing it.
    if name == "Client":
        from facecast.client import Client

        return Client
    raise AttributeError(f"module 'facecast' has no attribute {name!r}")
