"""Generate the project's own example audio into assets/ (no downloads; deterministic).

    python scripts/make_assets.py

chip_melody.wav  square-wave melody, high-frequency dominant (a small cousin of WINNER's tetris.wav)
sweep.wav        linear chirp 0 -> 0.9 × Nyquist: every frequency in turn
chord.wav        decaying piano-like chord, low-frequency dominant (like bach.wav)
All 16 kHz mono, 1 s (16,000 samples: a CPU trains on them in seconds), 16-bit PCM.
"""
from pathlib import Path

import numpy as np
import soundfile as sf

from spectral_lab.signals import chiptune, chirp

RATE = 16_000
SECONDS = 1.0
ASSETS = Path(__file__).resolve().parent.parent / "assets"


def chord(length: int, rate: int) -> np.ndarray:
    """C-major triad (C3, E3, G3) with 1/h² harmonics and an exponential decay per note."""
    t = np.arange(length) / rate
    wave = np.zeros(length)
    for note in (48, 52, 55):
        f0 = 440.0 * 2 ** ((note - 69) / 12)
        for harmonic in range(1, 7):
            wave += np.sin(2 * np.pi * f0 * harmonic * t) / harmonic**2 * np.exp(-2.5 * t * harmonic)
    return wave


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    length = int(RATE * SECONDS)
    clips = {
        "chip_melody": chiptune(length, sample_rate=RATE, tempo=8.0, seed=1, octave=2),
        "sweep": chirp(length, start=0.0, end=0.9),
        "chord": chord(length, RATE),
    }
    for name, wave in clips.items():
        wave = 0.9 * wave / np.max(np.abs(wave))
        path = ASSETS / f"{name}.wav"
        sf.write(path, wave.astype(np.float32), RATE, subtype="PCM_16")
        print(f"wrote {path} ({length} samples, {RATE} Hz)")


if __name__ == "__main__":
    main()
