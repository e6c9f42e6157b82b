"""The text-to-speech engines, one module each behind the ``Engine`` interface of ``base``."""

from __future__ import annotations

from facecast.speech.engines.base import Engine, EngineOutput

__all__ = ["Engine", "EngineOutput", "get_engine", "all_engines"]

_ENGINES: dict[str, Engine] | None = None


def all_engines() -> dict[str, Engine]:
    """Every engine Facecast knows, by name (installed or not: ask ``available()``)."""
    global _ENGINES
    if _ENGINES is None:
        from facecast.speech.engines.espeak import EspeakEngine
        from facecast.speech.engines.festival import FestivalEngine
        from facecast.speech.engines.flite import FliteEngine
        from facecast.speech.engines.piper import PiperEngine

        engines: list[Engine] = [PiperEngine(), FliteEngine(), FestivalEngine(), EspeakEngine()]
        _ENGINES = {e.name: e for e in engines}
    return _ENGINES


def get_engine(name: str) -> Engine:
    return all_engines()[name]
