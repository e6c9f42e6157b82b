"""Quality on real portraits as people upload them (issue 8): each test portrait of
``tests/portraits.py`` speaks 8 s of espeak-ng speech with pauses; the evaluator's figures per photo
are printed as a table, and a contact sheet per photo is written for a person to look at.

    .venv/bin/python bench/portraits.py [--output test-output/portraits] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from contact_sheet import contact_sheet  # noqa: E402
from facecast.engine import load_audio, prepare_avatar, render  # noqa: E402
from facecast.engine.animate import PhotoAnimator  # noqa: E402
from facecast.engine.evaluate import QualityReport, evaluate_video  # noqa: E402
from inputs import speech_wav  # noqa: E402


def render_and_measure(name: str, speech: Path, work: Path, sheets: Path) -> tuple[QualityReport, str]:
    """Render portrait ``name`` speaking ``speech``; its quality report and its rest-mouth kind."""
    import cv2
    from tests.portraits import load_portrait

    image = load_portrait(name)
    source = work / f"{name}.png"
    cv2.imwrite(str(source), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    pack = prepare_avatar(image)
    rest = PhotoAnimator(pack).face.rest
    out = work / f"{name}.mp4"
    render(pack, load_audio(speech), out)
    report = evaluate_video(out, speech, source)
    sheets.mkdir(parents=True, exist_ok=True)
    contact_sheet(out, sheets / f"{name}.png", source=image)
    return report, rest.kind


def _f(v: float | int | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def main() -> None:
    from tests.portraits import available_portraits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--output", type=Path, default=ROOT / "test-output" / "portraits")
    args = parser.parse_args()
    print("| portrait | rest | lip sync | speech median / p95 | pauses / photo's rest | teeth kept | "
          "colour added px | SSIM | blinks |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        speech = speech_wav(work / "speech.wav", 8.0)
        for p in available_portraits():
            if args.names and p.name not in args.names:
                continue
            r, kind = render_and_measure(p.name, speech, work, args.output)
            print(f"| {p.name} | {kind} | {_f(r.lip_sync_correlation)} | "
                  f"{_f(r.mouth_open_speech_median)} / {_f(r.mouth_open_speech_p95)} | "
                  f"{_f(r.mouth_open_silence)} / {_f(r.portrait_mouth_opening)} | {_f(r.upper_teeth_kept)} | "
                  f"{_f(r.mouth_saturated_pixels_added, 'd')} | {_f(r.identity_similarity)} | {r.blink_count} |",
                  flush=True)


if __name__ == "__main__":
    main()
