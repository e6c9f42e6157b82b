"""Facecast: a portrait (or a short clip) plus speech in, a lip-synced talking-head MP4 out.

The engine (``facecast.engine``) is pure rendering; ``facecast.speech`` makes speech from text;
``facecast.service`` serves the Miraflow and Mirage HTTP APIs over both.
"""

from facecast.errors import FacecastError

__version__ = "0.1.0"
__all__ = ["FacecastError", "__version__"]
