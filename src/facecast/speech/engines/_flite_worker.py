"""Speak one text with libflite and report its segments with times and tokens (run as a process).

A fresh process per synthesis (``python -I -S``, standard library only) keeps flite's global state
and libc's rand() (the clustergen voices' excitation noise) the same every time, so the same text
always gives the same audio, and a crash in the C library cannot take the caller down. Usage:

    python _flite_worker.py info             -> one JSON line: the voices that load
    python _flite_worker.py say VOICE < text  -> one JSON line then 16-bit PCM

The JSON has the sample rate, the number of top-level tokens, and the segments as
[name, end seconds, token index or -1] (the token each phone came from, through syllable and word).
"""

from __future__ import annotations

import ctypes
import json
import sys

VOICES = ("slt", "rms", "awb", "kal", "kal16")


class _Wave(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_char_p),
        ("sample_rate", ctypes.c_int),
        ("num_samples", ctypes.c_int),
        ("num_channels", ctypes.c_int),
        ("samples", ctypes.POINTER(ctypes.c_short)),
    ]


def _lib():  # type: ignore[no-untyped-def]
    lib = ctypes.CDLL("libflite.so.1")
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    for name, args, res in (
        ("flite_synth_text", [cp, vp], vp),
        ("utt_wave", [vp], ctypes.POINTER(_Wave)),
        ("utt_relation", [vp, cp], vp),
        ("relation_head", [vp], vp),
        ("item_next", [vp], vp),
        ("ffeature_string", [vp, cp], cp),
        ("ffeature_float", [vp, cp], ctypes.c_float),
        ("path_to_item", [vp, cp], vp),
    ):
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    lib.flite_init()
    return lib


def _voice(name: str):  # type: ignore[no-untyped-def]
    if name not in VOICES:
        return None
    try:
        register = getattr(ctypes.CDLL(f"libflite_cmu_us_{name}.so.1"), f"register_cmu_us_{name}")
    except (OSError, AttributeError):
        return None
    register.argtypes, register.restype = [ctypes.c_char_p], ctypes.c_void_p
    return register(None) or None


def _items(lib, utt, relation: bytes) -> list:  # type: ignore[no-untyped-def]
    out = []
    item = lib.relation_head(lib.utt_relation(utt, relation))
    while item:
        out.append(item)
        item = lib.item_next(item)
    return out


def say(voice_name: str, text: str) -> tuple[dict, bytes]:
    lib = _lib()
    voice = _voice(voice_name)
    if voice is None:
        raise SystemExit(f"flite has no voice {voice_name!r}")
    utt = lib.flite_synth_text(text.encode("ascii", "ignore"), voice)
    if not utt:
        raise SystemExit("flite returned no utterance")
    wave = lib.utt_wave(utt)
    rate, pcm = 16000, b""
    if wave:
        w = wave.contents
        rate = int(w.sample_rate)
        n = int(w.num_samples) * max(1, int(w.num_channels))
        pcm = ctypes.string_at(w.samples, n * 2) if n else b""
        if w.num_channels > 1:
            raise SystemExit("flite made multi-channel audio")
    tokens = {int(t): i for i, t in enumerate(_items(lib, utt, b"Token"))}
    segments = []
    for item in _items(lib, utt, b"Segment"):
        name = (lib.ffeature_string(item, b"name") or b"pau").decode("ascii", "replace")
        end = float(lib.ffeature_float(item, b"end"))
        token = lib.path_to_item(item, b"R:SylStructure.parent.parent.R:Token.parent")
        segments.append([name, end, tokens.get(int(token), -1) if token else -1])
    return {"rate": rate, "tokens": len(tokens), "segments": segments}, pcm


def main() -> None:
    out = sys.stdout.buffer
    if sys.argv[1:2] == ["info"]:
        _lib()
        out.write(json.dumps({"voices": [v for v in VOICES if _voice(v) is not None]}).encode() + b"\n")
    elif len(sys.argv) == 3 and sys.argv[1] == "say":
        header, pcm = say(sys.argv[2], sys.stdin.buffer.read().decode("utf-8", "replace"))
        out.write(json.dumps(header).encode() + b"\n" + pcm)
    else:
        raise SystemExit(__doc__)
    out.flush()


if __name__ == "__main__":
    main()
