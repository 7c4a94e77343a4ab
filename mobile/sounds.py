"""Sounds the client makes, synthesised here so that nothing is downloaded at run time."""

from __future__ import annotations

import io
import math
import wave
from functools import cache

RATE = 8_000


@cache
def alert_tone() -> bytes:
    """A falling two-note chime (880 Hz, then 660 Hz), three times: a WAV file of about 1.4 s."""
    frames = bytearray()
    for _ in range(3):
        for hz in (880, 660):
            for n in range(int(RATE * 0.18)):
                fade = min(1.0, n / 160, (RATE * 0.18 - n) / 160)  # no clicks at the edges
                sample = int(0.6 * 32_767 * fade * math.sin(2 * math.pi * hz * n / RATE))
                frames += sample.to_bytes(2, "little", signed=True)
        frames += bytes(int(RATE * 0.1) * 2)  # a pause between chimes
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(bytes(frames))
    return out.getvalue()
