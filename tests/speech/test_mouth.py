"""Text-driven speech into the engine's viseme stage: lips closed on the m/b/p at their times."""

from __future__ import annotations

import math

import pytest

from facecast.engine.audio import loudness_envelope
from facecast.engine.visemes import mouth_track_from_phones
from facecast.speech import list_voices, synthesize


@pytest.mark.parametrize("voice_id", ["piper-en_US-joe-medium", "flite-slt", "festival-kal", "espeak-en-us"])
def test_lips_close_on_bilabials_at_the_aligned_times(voice_id: str) -> None:
    if not any(v.id == voice_id and v.available for v in list_voices()):
        pytest.skip(f"{voice_id} is not installed here")
    speech = synthesize("Mom paid a big bill, maybe.", voice_id)
    fps = 25.0
    n = math.ceil(speech.duration * fps)
    track = mouth_track_from_phones(speech.phones, loudness_envelope(speech.audio, fps, n), fps, n)
    press, jaw = track.column("press"), track.column("jaw")
    bilabials = [p for p in speech.phones if p.phone in ("M", "B", "P")]
    assert len(bilabials) == 7
    for p in bilabials:
        frame = min(n - 1, int((p.start + p.end) / 2 * fps))
        assert press[frame] > 0.8 and jaw[frame] < 0.1, (p, press[frame], jaw[frame])
    opens = [p for p in speech.phones if p.phone in ("AA", "IH")]
    assert max(jaw[min(n - 1, int((p.start + p.end) / 2 * fps))] for p in opens) > 0.3
