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
from facecast.engine import TimedPhone, load_audio, prepare_avatar, render  # noqa: E402
from facecast.engine.animate import PhotoAnimator  # noqa: E402
from facecast.engine.evaluate import QualityReport, evaluate_video  # noqa: E402
from inputs import speech_wav  # noqa: E402

#: The text script the portraits speak in text renders (the default Piper voice's own phone times).
SCRIPT = (
    "Hello, my name is Facecast. Bob bought a big map, and Mom paid for the maple pie. "
    "Five wise women fixed the very old violin."
)


def speak(text: str, path: Path) -> list[TimedPhone]:
    """``text`` spoken by the default voice into the WAV ``path``; the voice's timed phones."""
    import soundfile as sf

    from facecast.speech import synthesize

    speech = synthesize(text)
    sf.write(path, speech.audio.samples, speech.audio.sample_rate, subtype="PCM_16")
    return list(speech.phones)


def render_and_measure(
    name: str, speech: Path, work: Path, sheets: Path, phones: list[TimedPhone] | None = None
) -> tuple[QualityReport, str]:
    """Render portrait ``name`` speaking ``speech`` (with the voice's ``phones`` for a text render);
    its quality report and its rest-mouth kind. The contact sheet goes to ``sheets``."""
    import cv2
    from tests.portraits import load_portrait

    image = load_portrait(name)
    source = work / f"{name}.png"
    cv2.imwrite(str(source), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    pack = prepare_avatar(image)
    rest = PhotoAnimator(pack).face.rest
    driven_by = "text" if phones is not None else "audio"
    out = work / f"{name}-{driven_by}.mp4"
    render(pack, load_audio(speech), out, phones=phones)
    report = evaluate_video(out, speech, source)
    sheets.mkdir(parents=True, exist_ok=True)
    contact_sheet(out, sheets / f"{name}-{driven_by}.png", source=image)
    return report, rest.kind


def _f(v: float | int | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def main() -> None:
    from tests.portraits import available_portraits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--output", type=Path, default=ROOT / "test-output" / "portraits")
    parser.add_argument("--text", action="store_true", help="speak a text script with the default voice")
    args = parser.parse_args()
    print("| portrait | rest | lip sync | speech median / p95 | pauses / photo's rest | teeth kept | "
          "colour added px | SSIM | blinks |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.text:
            speech = work / "script.wav"
            phones: list[TimedPhone] | None = speak(SCRIPT, speech)
        else:
            speech, phones = speech_wav(work / "speech.wav", 8.0), None
        for p in available_portraits():
            if args.names and p.name not in args.names:
                continue
            r, kind = render_and_measure(p.name, speech, work, args.output, phones)
            print(f"| {p.name} | {kind} | {_f(r.lip_sync_correlation)} | "
                  f"{_f(r.mouth_open_speech_median)} / {_f(r.mouth_open_speech_p95)} | "
                  f"{_f(r.mouth_open_silence)} / {_f(r.portrait_mouth_opening)} | {_f(r.upper_teeth_kept)} | "
                  f"{_f(r.mouth_saturated_pixels_added, 'd')} | {_f(r.identity_similarity)} | {r.blink_count} |",
                  flush=True)


if __name__ == "__main__":
    main()
