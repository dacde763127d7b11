"""Cost and accuracy of the voice-activity check (:mod:`serwidgets.vad`).

Cost: wall-clock and CPU time of ``vad.voice_activity`` per 3-s clip at 16 kHz (p50/p90), on
3-s windows of real EmoDB speech and on white noise (noise frames are all loud, so nothing is
skipped: the worst case).

Accuracy (``--corpora``): every EmoDB and RAVDESS clip, prepared as ``audio.prepare`` does
before the check (16 kHz, DC removed, trimmed), must be speech; prints the false rejections,
the smallest voiced duration and pitch spread (the margins to the thresholds), and the verdict
on synthetic non-speech.

Usage::

    python benchmarks/bench_vad.py [--data-dir DIR] [--clips 200] [--corpora]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from serwidgets import audio, vad

REPO = Path(__file__).resolve().parents[1]
SR = audio.TARGET_SR


def data_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("SER_DATA") or REPO.parent / "shared" / "data")


def prepared(path) -> np.ndarray:
    """The waveform the check sees inside audio.prepare (not normalised: levels are as recorded)."""
    return audio.load(path, audio.AudioOptions(normalize=False, min_speech_seconds=0))


def bench_cost(emodb: Path, n_clips: int) -> None:
    files = sorted((emodb / "wav").glob("*.wav"))
    speech = np.concatenate([prepared(p) for p in files[:: max(1, len(files) // 40)]])
    n = 3 * SR
    windows = [speech[i : i + n] for i in range(0, speech.size - n, SR)][:n_clips]
    rng = np.random.default_rng(0)
    for name, clips in (("EmoDB speech", windows),
                        ("white noise", [0.1 * rng.standard_normal(n).astype(np.float32) for _ in range(len(windows))])):
        vad.voice_activity(clips[0], SR)  # warm-up: the window cache
        wall, cpu = [], []
        for y in clips:
            w, c = time.perf_counter(), time.process_time()
            vad.voice_activity(y, SR)
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        wall, cpu = 1e3 * np.array(wall), 1e3 * np.array(cpu)
        print(f"voice_activity, 3-s clips, {name:<13} p50 {np.percentile(wall, 50):5.2f} ms  "
              f"p90 {np.percentile(wall, 90):5.2f} ms  (CPU p50 {np.percentile(cpu, 50):5.2f} ms, "
              f"{len(clips)} clips)")


def validate(paths: list[Path], corpus: str) -> None:
    rejected, voiced, spread = [], [], []
    for path in paths:
        try:
            activity = vad.voice_activity(prepared(path), SR)
        except audio.AudioError as error:  # too short or silent before the check
            rejected.append(f"{path.name}: {error}")
            continue
        voiced.append(activity.voiced_seconds)
        spread.append(activity.pitch_spread)
        if not activity.speech:
            rejected.append(f"{path.name}: {activity.reason()}")
    print(f"{corpus}: {len(rejected)} of {len(paths)} clips rejected as not speech; smallest voiced "
          f"duration {min(voiced):.2f} s (needs {vad.MIN_VOICED_SECONDS:g}), smallest pitch spread "
          f"{min(spread):.2f} semitones (needs {vad.MIN_PITCH_SPREAD:g})")
    for line in rejected:
        print(f"  {line}")


def non_speech() -> None:
    rng = np.random.default_rng(0)
    n = 3 * SR
    t = np.arange(n) / SR
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    pink = np.fft.irfft(spectrum, n)
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    signals = {
        "silence": np.zeros(n),
        "constant 0.5 (DC)": np.full(n, 0.5),
        "white noise": 0.1 * white,
        "pink noise": 0.1 * pink / pink.std(),
        "tone 220 Hz": tone,
        "tone 220 Hz, noise at 20 dB SNR": tone + 0.1 * tone.std() * white,
        "tone 220 Hz, noise at 10 dB SNR": tone + 0.316 * tone.std() * white,
        "buzz 150 Hz (30 harmonics)": 0.05 * sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 30)),
        "synthetic voice (vad.synthetic_voice)": vad.synthetic_voice(3.0),
    }
    for name, y in signals.items():
        activity = vad.voice_activity(y - y.mean(), SR)
        print(f"  {name:<40} {'speech' if activity.speech else 'not speech':<10} ({activity.reason()})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding emodb/ and ravdess/ (default $SER_DATA or ../shared/data)")
    parser.add_argument("--clips", type=int, default=200, help="3-s clips timed per signal")
    parser.add_argument("--corpora", action="store_true", help="also check every EmoDB and RAVDESS clip")
    args = parser.parse_args(argv)
    data = data_dir(args.data_dir)
    bench_cost(data / "emodb", args.clips)
    print("synthetic signals:")
    non_speech()
    if args.corpora:
        validate(sorted((data / "emodb" / "wav").glob("*.wav")), "EmoDB")
        validate(sorted((data / "ravdess").glob("Actor_*/*.*")), "RAVDESS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
