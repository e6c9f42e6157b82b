"""`facecast voices` and `facecast say`."""

from __future__ import annotations

import io
import json

import soundfile as sf

from facecast.cli import main


def test_voices_table_and_json(capsys) -> None:
    assert main(["voices"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "NAME", "LANGUAGE", "GENDER", "ENGINE", "RATE", "AVAILABLE"]
    assert out[1].startswith("piper-en_US-joe-medium")
    assert main(["voices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"id", "name", "language", "gender", "engine", "sample_rate", "available"} <= set(data[0])


def test_say_writes_a_wav(tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "hello.wav"
    assert main(["say", "--voice", "espeak-en-us", "--text", "Hello there", "--output", str(out)]) == 0
    audio, rate = sf.read(str(out))
    assert rate == 22050 and len(audio) > rate * 0.3
    monkeypatch.setattr("sys.stdin", io.StringIO("From standard input."))
    timings = tmp_path / "t.json"
    assert (
        main(["say", "--voice", "flite-slt", "--text", "-", "-o", str(out), "--timings", str(timings)]) == 0
    )
    assert [w[0] for w in json.loads(timings.read_text())["words"]] == ["From", "standard", "input."]


def test_say_errors_are_one_line(tmp_path, capsys) -> None:
    out = str(tmp_path / "x.wav")
    assert main(["say", "--voice", "nope", "--text", "hi", "-o", out]) == 2
    assert main(["say", "--text", "   ", "-o", out]) == 2
    assert main(["say", "--text", "中文", "-o", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("facecast: error:") for line in err)
