"""Where a photo-avatar render spends its time: per-stage milliseconds per frame and frames/s.

Run `.venv/bin/python bench/stages.py` (add `--full` for full-background 1080p). Renders a 30 s clip
of the astronaut in this process and prints, per frame, what the animator's stages cost on one
thread (mouth targets, mesh-warp maps, mouth painting, head motion, the whole frame), then the
render's own figures: when the first frame was written, the frames/s from start to end and in its
steady middle (10 % to 90 % of the frames), and the CPU time of this process and of its children
(the ffmpeg encoder and the phone recogniser).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from facecast.engine import PhotoAnimator, load_audio, prepare_avatar  # noqa: E402
from facecast.engine.motion import motion_track  # noqa: E402
from facecast.engine.render import frame_count, plan_mouth, render_video  # noqa: E402
from inputs import astronaut_png, speech_wav  # noqa: E402

FPS = 25.0


def _timed(spent: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start

    return run


def stage_costs(
    animator: PhotoAnimator, mouth: np.ndarray, blink: np.ndarray, head: np.ndarray
) -> dict[str, float]:
    """Milliseconds per frame of each stage over all the frames, OpenCV on one thread."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    spent: dict[str, float] = defaultdict(float)
    face = animator.face
    patched = [
        (face, "target_points", "mouth targets"),
        (face.mouth_warp, "maps", "mesh-warp maps"),
        (face.painter, "paint", "mouth paint"),
        (animator.head, "apply", "head motion"),
    ]
    for obj, attr, name in patched:
        setattr(obj, attr, _timed(spent, name, getattr(obj, attr)))
    try:
        start = time.perf_counter()
        for i in range(len(mouth)):
            animator.frame(mouth[i], float(blink[i]), head[i])
        spent["whole frame"] = time.perf_counter() - start
    finally:
        for obj, attr, _ in patched:
            delattr(obj, attr)
        cv2.setNumThreads(threads)
    return {name: seconds / len(mouth) * 1e3 for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full", action="store_true", help="full-background 1920x1080 instead of 512² face crop"
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="facecast-stages-"))
    image = astronaut_png(work / "astronaut.png", size=(1920, 1080) if args.full else None)
    audio = load_audio(speech_wav(work / "speech.wav", args.seconds))
    pack = prepare_avatar(image, full_background=args.full)

    n = frame_count(audio.duration, FPS)
    mouth, loudness, _ = plan_mouth(audio, FPS, n)
    motion = motion_track(n, FPS, seed=0, loudness=loudness)
    costs = stage_costs(PhotoAnimator(pack), mouth.values, motion.blink, motion.head)
    print(f"animator, {pack.image.shape[1]}x{pack.image.shape[0]}, one thread, ms per frame (all {n} frames)")
    for name, ms in costs.items():
        print(f"  {name:16s} {ms:6.3f}")

    animator = PhotoAnimator(pack)
    marks: list[tuple[float, float]] = []
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    render_video(
        animator,
        audio,
        work / "out.mp4",
        on_progress=lambda f: marks.append((f, time.perf_counter() - start)),
    )
    wall = time.perf_counter() - start
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lo = next(m for m in marks if m[0] >= 0.1)
    hi = next(m for m in marks if m[0] >= 0.9)
    steady = (hi[0] - lo[0]) * n / (hi[1] - lo[1])

    def cpu(after: resource.struct_rusage, before: resource.struct_rusage) -> float:
        return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime

    print(f"render_video, {args.seconds:g} s of speech, {n} frames")
    print(f"  first frame at {marks[0][1]:.2f} s, done in {wall:.2f} s: {n / wall:.0f} frames/s")
    print(f"  steady (10-90 % of the frames): {steady:.0f} frames/s")
    print(
        f"  CPU: this process {cpu(self_after, self_before):.2f} s, children {cpu(children_after, children_before):.2f} s"
    )


if __name__ == "__main__":
    main()
