"""Speed of the feature path: log_mel alone, and load + prepare + log_mel on real EmoDB files.

Prints clips per second, the real-time factor (seconds of compute per second of audio) and
per-clip p50/p90 latency, with OpenBLAS/MKL limited to one thread as during training
next to TensorFlow.

Usage::

    python benchmarks/bench_features.py [--emodb PATH] [--clips 500] [--files 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from serwidgets import audio
from serwidgets.features import FeatureConfig, fix_frames, log_mel

REPO = Path(__file__).resolve().parents[1]


def report(name: str, seconds: np.ndarray, audio_seconds: np.ndarray) -> None:
    ms = 1e3 * seconds
    print(
        f"{name:<34} {len(seconds) / seconds.sum():8.0f} clips/s   "
        f"RTF {seconds.sum() / audio_seconds.sum():.5f}   "
        f"p50 {np.percentile(ms, 50):6.2f} ms   p90 {np.percentile(ms, 90):6.2f} ms"
    )


def bench_log_mel(config: FeatureConfig, n_clips: int) -> None:
    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(config.n_samples).astype(np.float32) for _ in range(n_clips)]
    log_mel(clips[0], config)  # warm-up: filterbank and window caches, scipy.fft import
    times = np.empty(n_clips)
    for i, y in enumerate(clips):
        t0 = time.perf_counter()
        log_mel(y, config)
        times[i] = time.perf_counter() - t0
    report(f"log_mel, {config.duration:g}-s clips", times, np.full(n_clips, config.duration))


def bench_files(config: FeatureConfig, files: list[Path]) -> None:
    load_t, total_t, durations = [], [], []
    for path in files:
        t0 = time.perf_counter()
        y = audio.load(path)
        t1 = time.perf_counter()
        fix_frames(log_mel(y, config), config.n_frames)
        t2 = time.perf_counter()
        load_t.append(t1 - t0)
        total_t.append(t2 - t0)
        durations.append(len(y) / config.sample_rate)
    durations = np.array(durations)
    report("load + prepare (EmoDB files)", np.array(load_t), durations)
    report("load + prepare + log_mel + fix", np.array(total_t), durations)
    print(f"  ({len(files)} files, {durations.sum():.0f} s of trimmed audio, median {np.median(durations):.2f} s)")


def main(argv=None) -> None:
    data = Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emodb", type=Path, default=data / "emodb" / "wav")
    parser.add_argument("--clips", type=int, default=500, help="synthetic 3-s clips for log_mel")
    parser.add_argument("--files", type=int, default=200, help="EmoDB files to load (0 = all)")
    args = parser.parse_args(argv)

    config = FeatureConfig()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs, BLAS 1 thread")
    print(f"load average {load} (other processes inflate the figures)")
    print(f"config: {config.to_json()}")
    with threadpool_limits(1):
        bench_log_mel(config, args.clips)
        files = sorted(args.emodb.glob("*.wav"))
        if args.files:
            files = files[: args.files]
        if files:
            bench_files(config, files)
        else:
            print(f"no EmoDB wav files under {args.emodb}; skipped the file benchmark")


if __name__ == "__main__":
    main()
