"""End to end: `facecast caption` and `facecast templates` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from facecast.engine.encode import probe
from tests.captions.media import speech_video

FACECAST = str(Path(sys.executable).with_name("facecast"))


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FACECAST, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_templates_lists_them() -> None:
    listed = json.loads(run("templates", "--json").stdout)
    assert "bold-highlight" in {t["slug"] for t in listed}
    assert "bold-highlight" in run("templates").stdout


def test_caption_writes_video_and_subtitles(tmp_path: Path) -> None:
    video, _ = speech_video(tmp_path, 320, 240)
    out, srt, vtt = tmp_path / "out.mp4", tmp_path / "out.srt", tmp_path / "out.vtt"
    done = run("caption", video, "--template", "bold-highlight", "-o", out, "--srt", srt, "--vtt", vtt)
    assert done.returncode == 0, done.stderr
    assert probe(out)["video"]["width"] == 320
    assert srt.read_text().startswith("1\n00:00:0") and "fox" in srt.read_text()
    assert vtt.read_text().startswith("WEBVTT\n\n00:00:0")
    assert "faster-whisper" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "nope", "-o", "{out}"], "Unknown caption template 'nope'"),
        (["-o", "{dir}/out.mov"], "--output must end in .mp4"),
        ([], "give --output"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    video, _ = speech_video(tmp_path, 320, 240)
    filled = [a.format(out=tmp_path / "o.mp4", dir=tmp_path) for a in args]
    done = run("caption", video, *filled)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("facecast: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.mp4").exists()


def test_render_with_captions_uses_the_speech_words(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from inputs import astronaut_png  # the bench's test portrait

    portrait = astronaut_png(tmp_path / "astronaut.png")
    out = tmp_path / "captioned.mp4"
    done = subprocess.run(
        [FACECAST, "render", "--image", str(portrait), "--text", "Captions in the same run.", "-o", str(out),
         "--captions", "bold-highlight", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"FACECAST_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = probe(out)
    assert info["video"]["width"] == 512 and info["audio"] is not None
    assert not list(tmp_path.glob(".facecast-*"))  # the uncaptioned intermediate is gone
    refused = run("render", "--image", portrait, "--text", "Hi.", "-o", tmp_path / "x.mp4", "--captions", "nope")
    assert refused.returncode == 2 and "Unknown caption template" in refused.stderr
    assert not (tmp_path / "x.mp4").exists()
