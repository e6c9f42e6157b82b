"""The worker side of the domain: preparing a queued avatar and rendering a job, the one place
that chooses the engine call by avatar kind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from facecast.errors import (
    InvalidInput,
    NotFound,
    UnknownVoice,
)
from facecast.service.avatars import SourceLimits, handler_for
from facecast.service.models import Avatar, Job, Speech, Voice
from facecast.service.resources.videos import VideoResource
from facecast.service.stock import STOCK_AVATARS
from facecast.service.uploads import (
    JobContext,
    PrepareContext,
    RenderedVideo,
)


class Rendering(VideoResource):
    """What the worker does with a claimed avatar or job."""

    # --- avatar preparation (in the worker) --------------------------------------------------------
    def prepare_queued_avatar(self, avatar: Avatar, ctx: PrepareContext) -> list[str]:
        """Prepare an avatar the worker claimed (a video avatar); returns the pack's warnings."""
        handler = handler_for(avatar.kind)
        folder = self.media.fetch_dir(self.media.avatar_dir(avatar.id))
        stock = next((s for s in STOCK_AVATARS if s.id == avatar.id and avatar.account_id is None), None)
        if stock is not None:
            # Stock content: made here the first time, within the engine's own limits.
            source = folder / stock.filename
            if not source.exists():
                folder.mkdir(parents=True, exist_ok=True)
                stock.write_source(source)
            limits = SourceLimits()
        else:
            found = sorted(folder.glob("source.*"))
            if not found:
                raise NotFound(f"The uploaded file of avatar {avatar.id} is missing", field="avatarId")
            source, limits = found[0], self.source_limits
        warnings = handler.prepare(
            source, folder, limits=limits, on_progress=ctx.report, should_cancel=ctx.should_cancel
        )
        self.media.publish(self.media.avatar_dir(avatar.id))
        return warnings

    # --- rendering (in the worker) ------------------------------------------------------------------
    def render_job(self, job: Job, ctx: JobContext) -> RenderedVideo:
        """Render one job: its speech, then the engine call its avatar's kind provides."""
        from facecast.engine import RenderOptions, load_audio

        if job.kind == "caption":  # captions an earlier video or an upload: service/captions.py
            from facecast.service.captions import run_caption_job

            return run_caption_job(self, job, ctx)
        with self.db.session() as session:
            avatar = session.get(Avatar, job.avatar_id)
            speech_row = session.get(Speech, job.speech_id) if job.speech_id else None
            voice = session.get(Voice, job.voice_id) if job.voice_id else None
        if avatar is None or avatar.deleted_at is not None:
            raise NotFound(f"Avatar {job.avatar_id} was deleted", field="avatarId")
        self.check_ready(avatar)
        handler = handler_for(avatar.kind)

        phones = words = None
        render_start = 0.0
        if job.audio_path:
            audio = load_audio(self.media.fetch(job.audio_path), max_seconds=self.settings.max_audio_seconds)
        elif speech_row is not None:
            speech = self.speech.load(speech_row.store_id)
            audio, phones, words = speech.audio, speech.phones, speech.words
        elif voice is not None and job.text:
            if voice.deleted_at is not None:
                raise UnknownVoice(f"Voice {voice.id} was deleted")
            ctx.report(0.02)
            speech = self.speech.make(voice.engine_voice_id, job.text, account_id=voice.account_id).speech
            audio, phones, words = speech.audio, speech.phones, speech.words
            render_start = 0.1
        else:
            raise InvalidInput("The job has no speech (its speech or voice was deleted)")
        if audio.duration > self.settings.max_audio_seconds:
            raise InvalidInput(
                f"the speech is {audio.duration:.0f} s long; the limit is {self.settings.max_audio_seconds:.0f} s",
                field="audio",
            )
        ctx.report(render_start)

        output = ctx.work_dir / "video.mp4"
        result = handler.render(
            self.media.fetch_dir(self.media.avatar_dir(avatar.id)),
            audio,
            output,
            phones=phones or None,
            full_background=job.full_background,
            options=RenderOptions(fps=self.settings.render_fps, seed=0),
            on_progress=_scaled(ctx.report, render_start, 0.8 if job.caption_template_id else 0.99),
            should_cancel=ctx.should_cancel,
        )
        produced = Path(result.path)
        if job.caption_template_id:  # captioned in the same job (Miraflow captionTemplateId)
            from facecast.service.captions import caption_rendered

            produced = caption_rendered(self, job, produced, words, ctx, _scaled(ctx.report, 0.8, 0.99))
        rel = self.media.video_file(job.video_id)
        final = self.media.commit(produced, rel)
        width, height = result.size
        return RenderedVideo(
            path=rel,
            duration=float(result.duration),
            width=int(width),
            height=int(height),
            size_bytes=final.stat().st_size,
            warnings=list(result.warnings),
        )


def _scaled(report: Callable[[float], None], start: float, end: float) -> Callable[[float], None]:
    return lambda fraction: report(start + (end - start) * max(0.0, min(1.0, fraction)))
