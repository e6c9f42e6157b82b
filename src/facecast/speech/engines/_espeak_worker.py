"""Speak one text with libespeak-ng and report its phoneme and word events (run as a process).

libespeak-ng keeps state between syntheses (pitch flutter, echo buffer), so the same text spoken
twice in one process comes out slightly different. Each synthesis therefore runs in a fresh
``python -I -S`` process (about 50 ms) using only the standard library. Usage:

    python _espeak_worker.py info            -> one JSON line: sample rate, version, voice files
    python _espeak_worker.py say VOICE < text -> one JSON line (rate, events) then 16-bit PCM

Events are [kind, sample, text_position, ipa]: kind 1 is a word (text_position is its 1-based
character position), kind 7 a phoneme (ipa is "" for a pause).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import sys

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_OPTIONS = 0x0001 | 0x0002 | 0x8000  # phoneme events, IPA phoneme names, never exit()
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_POS_CHARACTER = 1
_EV_LIST_TERMINATED, _EV_WORD, _EV_PHONEME = 0, 1, 7


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _VoiceInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


def _load():  # type: ignore[no-untyped-def]
    lib = ctypes.CDLL(ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1")
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceInfo))
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _OPTIONS)
    if rate <= 0:
        raise SystemExit("espeak-ng failed to initialise")
    return lib, rate


def info() -> dict:
    lib, rate = _load()
    voices = []
    array = lib.espeak_ListVoices(None)
    i = 0
    while array and array[i]:
        ident = array[i].contents.identifier
        if ident:  # "gmw/en-US": the file name is what espeak_SetVoiceByName takes
            voices.append(ident.decode("utf-8", "replace").split("/")[-1].lower())
        i += 1
    return {"rate": rate, "version": (lib.espeak_Info(None) or b"?").decode(), "voices": sorted(set(voices))}


def say(voice: str, text: str) -> tuple[dict, bytes]:
    lib, rate = _load()
    samples: list[bytes] = []
    events: list[list] = []

    def on_synth(wav, n, evs):  # type: ignore[no-untyped-def]
        if n > 0 and wav:
            samples.append(ctypes.string_at(wav, n * 2))
        i = 0
        while evs[i].type != _EV_LIST_TERMINATED:
            ev = evs[i]
            if ev.type == _EV_PHONEME:
                ipa = bytes(ev.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
                events.append([_EV_PHONEME, ev.sample, ev.text_position, ipa])
            elif ev.type == _EV_WORD:
                events.append([_EV_WORD, ev.sample, ev.text_position, ""])
            i += 1
        return 0

    callback = _CALLBACK(on_synth)
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise SystemExit(f"espeak-ng has no voice {voice!r}")
    data = text.encode("utf-8") + b"\0"
    status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None)
    if status != 0:
        raise SystemExit(f"espeak-ng failed ({status})")
    return {"rate": rate, "events": events}, b"".join(samples)


def main() -> None:
    out = sys.stdout.buffer
    if sys.argv[1:2] == ["info"]:
        out.write(json.dumps(info()).encode() + b"\n")
    elif len(sys.argv) == 3 and sys.argv[1] == "say":
        header, pcm = say(sys.argv[2], sys.stdin.buffer.read().decode("utf-8"))
        out.write(json.dumps(header).encode() + b"\n" + pcm)
    else:
        raise SystemExit(__doc__)
    out.flush()


if __name__ == "__main__":
    main()
