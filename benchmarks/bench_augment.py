"""Cost of on-the-fly augmentation on this machine (prints milliseconds per call).

Waveform operations run on a real EmoDB utterance; SpecAugment on a batch the shape the
default recipe trains on (32 x 64 mels x 188 frames), once vectorised and once as the naive
per-element loop it replaces, for comparison.

Run: ``.venv/bin/python benchmarks/bench_augment.py [--repeat 20]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from serwidgets import augment

DATA = Path(os.environ.get("SER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def ms_per_call(fn, repeat: int) -> float:
    fn()  # warm-up: lazy imports, librosa's first call
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return 1000 * (time.perf_counter() - start) / repeat


def spec_augment_loop(batch, rng):
    # The per-element loop spec_augment avoids, with the same default masks.
    out = batch.copy()
    for spec in out:
        fill = spec.min()
        for size, axis, max_width in ((spec.shape[0], 0, 8), (spec.shape[1], 1, 20)):
            for _ in range(2):
                width = rng.integers(0, max_width + 1)
                start = rng.integers(0, size - width + 1)
                index = [slice(None), slice(None)]
                index[axis] = slice(start, start + width)
                spec[tuple(index)] = fill
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    y, sr = sf.read(DATA / "emodb" / "wav" / "03a01Fa.wav", dtype="float32")
    pool = [sf.read(p, dtype="float32")[0] for p in sorted((DATA / "emodb" / "wav").glob("1*"))[:8]]
    batch = rng.normal(size=(32, 64, 188)).astype(np.float32)
    cases = {
        "add_noise white": lambda: augment.add_noise(y, 10.0, "white", rng=rng),
        "add_noise pink": lambda: augment.add_noise(y, 10.0, "pink", rng=rng),
        "add_noise babble (4 talkers)": lambda: augment.add_noise(
            y, 10.0, "babble", rng=rng, babble_pool=pool
        ),
        "time_shift": lambda: augment.time_shift(y, 0.25, rng, sr),
        "speed_perturb x1.1": lambda: augment.speed_perturb(y, 1.1, sr),
        "pitch_shift +2 st (librosa)": lambda: augment.pitch_shift(y, 2.0, sr),
        "spec_augment batch 32 (vectorised)": lambda: augment.spec_augment(batch, rng),
        "spec_augment batch 32 (python loop)": lambda: spec_augment_loop(batch, rng),
    }
    print(f"utterance: {y.size / sr:.2f} s at {sr} Hz; repeat {args.repeat}")
    for name, fn in cases.items():
        print(f"{name:38s} {ms_per_call(fn, args.repeat):8.2f} ms")


if __name__ == "__main__":
    main()
