"""Preview clips of the built-in caption templates: a few seconds of a stock voice, captioned with
each template, made offline by the worker at its first start (like the stock video avatar) and
served through signed media URLs (a template's ``preview_url``).
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from facecast.service.domain import Service

log = logging.getLogger(__name__)

PREVIEW_TEXT = "Captions make every word count. Here is how this style looks."
#: A vertical clip: the shape most captioned videos have.
PREVIEW_SIZE = (540, 960)
#: A slow diagonal gradient, so outlines and boxes show against light and dark.
_BACKDROP = "gradients=size={w}x{h}:rate=25:c0=0x1d2b64:c1=0xf8cdda:x0=0:y0=0:x1={w}:y1={h}:speed=0.02"


def preview_rel(slug: str) -> str:
    return f"previews/captions/{slug}.mp4"


def preview_url(service: Service, slug: str, base_url: str) -> str | None:
    """A signed URL of the template's preview clip, or None while it has not been made."""
    rel = preview_rel(slug)
    if not service.media.fetch(rel).is_file():
        return None
    expires, signature = service.signer.sign(rel, service.settings.media_url_ttl)
    base = (service.settings.public_url or base_url).rstrip("/")
    return f"{base}/media/{rel}?" + urlencode({"expires": expires, "signature": signature})


def _backdrop(path: Path, wav: Path) -> None:
    from facecast.engine.encode import ffmpeg_exe

    w, h = PREVIEW_SIZE
    subprocess.run(
        [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", _BACKDROP.format(w=w, h=h), "-i", str(wav), "-shortest",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
        ],  # fmt: skip
        check=True,
        timeout=120,
    )


def make_previews(service: Service) -> int:
    """Make the preview clips that are missing; returns how many were made. Safe to run in several
    workers at once: each clip is written aside and moved into place."""
    import soundfile as sf

    from facecast.captions import BUILTIN_TEMPLATES, caption_video

    missing = [t for t in BUILTIN_TEMPLATES if not service.media.exists(preview_rel(t.slug))]
    if not missing:
        return 0
    voice = service.default_voice_id()
    if voice is None:
        log.info("caption previews skipped: no voice")
        return 0
    work = service.media.work_dir(f"caption-previews-{threading.get_ident()}")
    try:
        with service.db.session() as session:
            from facecast.service.models import Voice

            row = session.get(Voice, voice)
        speech = service.speech.make(row.engine_voice_id if row else voice, PREVIEW_TEXT).speech
        wav = work / "speech.wav"
        sf.write(wav, speech.audio.samples, speech.audio.sample_rate)
        backdrop = work / "backdrop.mp4"
        _backdrop(backdrop, wav)
        for template in missing:
            out = work / f"{template.slug}.mp4"
            caption_video(backdrop, out, template, words=speech.words)
            service.media.commit(out, preview_rel(template.slug))
        log.info("caption template previews made: %d", len(missing))
        return len(missing)
    finally:
        service.media.drop_work_dir(work.name)


#: How long (seconds) a worker's preview maker waits for the stock voices to be seeded.
VOICE_WAIT_SECONDS = 60


def start_previews(service: Service) -> threading.Thread:
    """Make missing previews in the background (the worker starts serving jobs meanwhile)."""

    def run() -> None:
        try:
            # A worker started beside a new server may start before the server has seeded the
            # stock voices the previews are spoken with: give the seeding a minute.
            for _ in range(VOICE_WAIT_SECONDS):
                if service.default_voice_id() is not None:
                    break
                time.sleep(1.0)
            make_previews(service)
        except Exception:
            log.exception("could not make the caption template previews")

    thread = threading.Thread(target=run, name="caption-previews", daemon=True)
    thread.start()
    return thread
