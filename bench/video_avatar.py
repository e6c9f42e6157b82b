"""Video-avatar benchmark: preparation time, render speed and lip-sync figures of a re-synced clip.

Run with `.venv/bin/python bench/video_avatar.py` (add `--clip-seconds`/`--speech-seconds`). The
"recording" is the astronaut made to speak one text by the photo engine (head motion, blinks);
it is prepared as a video avatar and re-synced to other speech. A good re-sync has a mouth that
follows the new speech (high correlation) and not the recording's own (low correlation).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inputs import astronaut_png, speech_wav  # noqa: E402

RECORDING_TEXT = (
    "Good morning everyone. Today I want to talk about our garden, where apples, pears and "
    "plums grow all summer long. Water them early, and pick them when they are soft."
)


def recording_wav(path: Path, seconds: float) -> Path:
    """The recording's own speech: another text and voice than the new speech, cut to ``seconds``."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng is not installed: run scripts/setup.sh")
    raw = path.with_suffix(".raw.wav")
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-p", "35", "-w", str(raw), RECORDING_TEXT], check=True)
    samples, rate = sf.read(raw, dtype="float32")
    raw.unlink()
    total = int(seconds * rate)
    samples = np.tile(samples, int(np.ceil(total / len(samples))))[:total]
    sf.write(path, samples, rate, subtype="PCM_16")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip-seconds", type=float, default=8.0, help="length of the recording")
    parser.add_argument("--speech-seconds", type=float, default=20.0, help="length of the new speech")
    parser.add_argument("--full", action="store_true", help="a 1280x720 recording (default: 512x512 face crop)")
    parser.add_argument("--keep", type=Path, help="copy the recording and the output into this folder")
    args = parser.parse_args(argv)

    from facecast.engine import load_audio, prepare_avatar, render
    from facecast.engine.audio import loudness_envelope
    from facecast.engine.clip import prepare_video_avatar
    from facecast.engine.clip_render import ClipAnimator, render_video_avatar
    from facecast.engine.evaluate import evaluate_video, lagged_correlation

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        portrait = astronaut_png(tmp / "astronaut.png", size=(1280, 720) if args.full else None)
        old_wav = recording_wav(tmp / "recording.wav", args.clip_seconds)
        new_wav = speech_wav(tmp / "new.wav", args.speech_seconds)
        recording = tmp / "recording.mp4"
        photo = prepare_avatar(portrait, full_background=args.full, size=512)
        render(photo, load_audio(old_wav), recording)

        started = time.perf_counter()
        pack = prepare_video_avatar(recording)
        prep = time.perf_counter() - started

        new_audio = load_audio(new_wav)
        output = tmp / "resynced.mp4"
        started = time.perf_counter()
        result = render_video_avatar(pack, new_audio, output)
        wall = time.perf_counter() - started

        report = evaluate_video(output, new_wav)
        old_audio = load_audio(old_wav)
        steps = ClipAnimator(pack).walk(result.n_frames, result.fps)
        positions = np.array([int(round(step.position)) for step in steps])
        old_loudness = loudness_envelope(old_audio, pack.fps, pack.n_frames)[positions]
        opening = report.mouth_opening
        r_old, r_old_best, _ = lagged_correlation(opening, old_loudness)
        r_rec, _, _ = lagged_correlation(opening, pack.gap[positions])
        source_report = evaluate_video(recording, old_wav)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(recording, args.keep / "recording.mp4")
            shutil.copy(output, args.keep / "resynced.mp4")

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    w, h = pack.size
    walk = "loop" if pack.loop else "forward and back"
    print(f"### Video avatar ({w}x{h}, {args.clip_seconds:g} s recording, {args.speech_seconds:g} s new speech)\n")
    print("| figure | value |")
    print("|---|---|")
    print(f"| preparation | {prep:.1f} s ({pack.n_frames / prep:.0f} frames/s) |")
    print(f"| render (incl. encoding) | {wall:.1f} s, {result.n_frames / wall:.0f} frames/s, "
          f"real-time factor {wall / result.duration:.2f} |")
    print(f"| walk through the clip | {walk} (loop cost {pack.loop_cost:.2f}) |")
    print(f"| recording: its mouth vs its own speech | {fmt(source_report.lip_sync_best_correlation)} |")
    print(f"| output mouth vs NEW speech (lag 0 / best) | {fmt(report.lip_sync_correlation)} / "
          f"{fmt(report.lip_sync_best_correlation)} |")
    print(f"| output mouth vs recording's speech (lag 0 / best) | {fmt(r_old)} / {fmt(r_old_best)} |")
    print(f"| output mouth vs recording's mouth | {fmt(r_rec)} |")
    print(f"| mouth opening in pauses / in speech | {fmt(report.mouth_open_silence)} / "
          f"{fmt(report.mouth_open_speech)} |")
    print(f"| identity SSIM (mean / min) | {report.identity_similarity:.3f} / {report.identity_similarity_min:.3f} |")
    print(f"| blinks per minute | {report.blinks_per_minute:.1f} |")
    print(f"| peak memory (this process) | {peak_mb:.0f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
