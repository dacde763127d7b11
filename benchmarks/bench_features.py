"""Speed of the feature path: log_mel alone, and load + prepare + log_mel on real EmoDB files;
for comparison, the baseline's utterance functionals (numpy statistics, openSMILE ComParE and
eGeMAPS) of 3-s clips.

Prints clips per second, the real-time factor (seconds of compute per second of audio) and
per-clip p50/p90 latency (wall clock), plus the median CPU time per clip, which other
processes on a shared machine disturb less. OpenBLAS/MKL is limited to one thread, as
during training next to TensorFlow.

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


class Timer:
    """Wall-clock and CPU seconds of each timed block."""

    def __init__(self):
        self.wall, self.cpu = [], []

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.wall.append(time.perf_counter() - self._wall)
        self.cpu.append(time.process_time() - self._cpu)


def report(name: str, timer: Timer, audio_seconds) -> None:
    wall, cpu = 1e3 * np.array(timer.wall), 1e3 * np.array(timer.cpu)
    print(
        f"{name:<32} {1e3 * len(wall) / wall.sum():6.0f} clips/s  "
        f"RTF {wall.sum() / 1e3 / np.sum(audio_seconds):.5f}  "
        f"p50 {np.percentile(wall, 50):5.2f} ms  p90 {np.percentile(wall, 90):5.2f} ms  "
        f"(CPU p50 {np.percentile(cpu, 50):5.2f} ms)"
    )


def bench_log_mel(config: FeatureConfig, n_clips: int) -> None:
    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(config.n_samples).astype(np.float32) for _ in range(n_clips)]
    log_mel(clips[0], config)  # warm-up: filterbank and window caches, scipy.fft import
    timer = Timer()
    for y in clips:
        with timer:
            log_mel(y, config)
    report(f"log_mel, {config.duration:g}-s clips", timer, config.duration * n_clips)


def bench_files(config: FeatureConfig, files: list[Path]) -> None:
    loading, everything, durations = Timer(), Timer(), []
    for path in files:
        with everything:
            with loading:
                y = audio.load(path)
            fix_frames(log_mel(y, config), config.n_frames)
        durations.append(len(y) / config.sample_rate)
    durations = np.array(durations)
    report("load + prepare (EmoDB files)", loading, durations)
    report("load + prepare + log_mel + fix", everything, durations)
    print(
        f"  ({len(files)} files, {durations.sum():.0f} s of trimmed audio, "
        f"median {np.median(durations):.2f} s)"
    )


def bench_functionals(config: FeatureConfig, n_clips: int) -> None:
    from serwidgets.functionals import opensmile_functionals, utterance_features

    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(config.n_samples).astype(np.float32) for _ in range(n_clips)]
    for name, compute in (
        ("stats", lambda y: utterance_features(y, config)),
        ("compare", lambda y: opensmile_functionals(y, "compare")),
        ("egemaps", lambda y: opensmile_functionals(y, "egemaps")),
    ):
        compute(clips[0])  # warm-up: openSMILE parses its configuration once
        timer = Timer()
        for y in clips:
            with timer:
                compute(y)
        report(f"functionals {name}, {config.duration:g}-s", timer, config.duration * n_clips)
    print("  (openSMILE runs in a worker process: its CPU column counts this process only)")


def main(argv=None) -> None:
    data = Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emodb", type=Path, default=data / "emodb" / "wav")
    parser.add_argument("--clips", type=int, default=500, help="synthetic 3-s clips for log_mel")
    parser.add_argument("--files", type=int, default=200, help="EmoDB files to load (0 = all)")
    parser.add_argument("--functionals", type=int, default=50,
                        help="synthetic 3-s clips for the baseline's functionals (0 = skip)")
    args = parser.parse_args(argv)

    config = FeatureConfig()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, BLAS 1 thread"
    )
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
        if args.functionals:
            bench_functionals(config, args.functionals)


if __name__ == "__main__":
    main()
