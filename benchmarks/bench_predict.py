"""Prediction speed: latency per 3-s clip, and time to first prediction in a fresh process.

Latency is ``Model.predict_file(wav_bytes)`` -- decode, resample, trim, normalise, features,
model -- for a 3-s clip of real speech (EmoDB, 16 kHz WAV; RAVDESS, 48 kHz FLAC), p50/p90
over ``--runs`` calls after a warm-up, per backend and thread count. The first-prediction
figures come from fresh interpreters (``python -c``): wall time from spawn to the first
result, and peak RSS.

Targets: p50 <= 25 ms per clip for the encoder model (7 ms for the CNN); first prediction
<= 1.5 s and <= 300 MB with LiteRT; calibration <= 50 ms after the last clip.

Without ``--model`` it uses the default bundle (``$SER_MODEL`` or ``models/ser-emotion6``);
if that does not exist it writes an *untrained* full-size ``zhao2019_2d`` bundle to a
temporary folder (latency does not depend on the weights) and says so.

Usage::

    python benchmarks/bench_predict.py [--model PATH] [--runs 200] [--fresh 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serwidgets import audio, features  # noqa: E402
from serwidgets.bundle import resolve  # noqa: E402
from serwidgets.model import EncoderModel, load_model  # noqa: E402

DATA = Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "data"))
CLIPS = {
    "EmoDB wav 16 kHz": DATA / "emodb" / "wav" / "03a05Wa.wav",
    "RAVDESS flac 48 kHz": DATA / "ravdess" / "Actor_01" / "03-01-05-01-01-01-01.flac",
}

# Peak RSS from VmHWM: ru_maxrss would include this (parent) process's RSS, inherited at fork.
FIRST_PREDICTION = """
import sys, time
t0 = time.perf_counter()
import serwidgets
model = serwidgets.load_model(sys.argv[1], backend=sys.argv[3])
t1 = time.perf_counter()
model.predict_file(sys.argv[2])
t2 = time.perf_counter()
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'librosa', 'numba', 'matplotlib', 'sklearn', 'pandas'})
hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))
print(t1 - t0, t2 - t0, int(hwm.split()[1]) / 1024, ','.join(heavy) or '-')
"""


def three_second_bytes(path: Path) -> bytes:
    """The middle 3 s of a real recording, re-encoded in its own format and rate."""
    import soundfile

    y, sr = soundfile.read(path, dtype="float32")
    n = 3 * sr
    if len(y) < n:
        raise SystemExit(f"{path} is shorter than 3 s")
    start = (len(y) - n) // 2
    buffer = io.BytesIO()
    soundfile.write(buffer, y[start:start + n], sr, format=path.suffix[1:].upper())
    return buffer.getvalue()


def timed(fn, runs: int, warmup: int = 5) -> np.ndarray:
    for _ in range(warmup):
        fn()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - start
    return times * 1000


def ms(times: np.ndarray) -> str:
    return f"p50 {np.percentile(times, 50):6.2f} ms   p90 {np.percentile(times, 90):6.2f} ms"


def write_untrained_bundle(directory: Path) -> None:
    """A full-size zhao2019_2d bundle with random weights (same graph, same cost)."""
    from serwidgets import export, nets
    from serwidgets.card import NetworkCard

    config = features.FeatureConfig()
    labels = ("angry", "disgust", "fear", "happy", "neutral", "sad")
    shape = [config.n_mels, config.n_frames]
    model = nets.build("zhao2019_2d", tuple(shape), len(labels))
    card = NetworkCard(name="untrained-zhao2019_2d", description="random weights, for timing only", task="emotion6",
                       labels=labels, audio_options=audio.AudioOptions(), feature_config=config, input_kind="log_mel",
                       input_shape=shape, net={"name": "zhao2019_2d", "kwargs": {}},
                       training={"corpora": [], "note": "untrained: for benchmarks only"})
    export.save_network(model, directory, card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="bundle (default: the shipped one, else an untrained one)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--fresh", type=int, default=5, help="fresh processes for the first-prediction figures")
    parser.add_argument("--write-untrained", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_untrained:
        write_untrained_bundle(Path(args.write_untrained))
        return

    directory = resolve(args.model)
    if args.model is None and not directory.is_dir():
        directory = Path(tempfile.mkdtemp()) / "untrained-zhao2019_2d"
        print(f"no shipped bundle at {resolve()}: writing an untrained full-size zhao2019_2d to {directory}")
        # In a child process, so this one never imports TensorFlow before the LiteRT timings.
        subprocess.run([sys.executable, __file__, "--write-untrained", str(directory)], check=True,
                       stderr=subprocess.DEVNULL)
    print(f"model: {directory}")
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    clips = {name: three_second_bytes(path) for name, path in CLIPS.items()}
    encoder_head = isinstance(load_model(directory), EncoderModel)
    backends = (("litert", None), ("litert", 1)) + (() if encoder_head else (("tensorflow", None),))
    print(f"\nlatency of predict_file(3-s clip bytes), {args.runs} runs")
    for backend, threads in backends:
        model = load_model(directory, backend=backend, num_threads=threads)
        label = f"{backend} ({'default' if threads is None else threads} thread{'s' if threads != 1 else ''})"
        for name, data in clips.items():
            print(f"  {label:<30} {name:<22} {ms(timed(lambda: model.predict_file(data), args.runs))}")

    model = load_model(directory)
    options = model.audio_options
    data = clips["EmoDB wav 16 kHz"]
    y = audio.load(data, options)
    print("\nstages (EmoDB clip; one BLAS thread, as in a model)")
    with threadpool_limits(limits=1, user_api="blas"):
        print(f"  decode + prepare        {ms(timed(lambda: audio.load(data, options), args.runs))}")
        if encoder_head:
            from serwidgets.encoders import pool_stats

            mel = features.whisper_log_mel(y)
            print(f"  whisper_log_mel         {ms(timed(lambda: features.whisper_log_mel(y), args.runs))}")
            print(f"  encoder (LiteRT)        {ms(timed(lambda: model.encoder._run(mel), args.runs))}")
            states = model.encoder._run(mel)
            head = timed(lambda: model.head.predict_features(pool_stats(states)[None]), args.runs)
            print(f"  pooling + head          {ms(head)}")
            takes = [audio.load(clips[name], options) for name in clips] * 5
            features_10 = model.features(takes[:9])
            from serwidgets.calibration import Calibration

            last = takes[9]
            calibration = timed(lambda: Calibration.from_features(
                np.concatenate([features_10, model.features([last])]), [3.0] * 10), max(args.runs // 10, 5))
            print(f"  calibration after the 10th clip (encode it + statistics) {ms(calibration)}")
        else:
            config = model.feature_config
            spectrogram = timed(lambda: features.fix_frames(features.log_mel(y, config), config.n_frames), args.runs)
            print(f"  log_mel + fix_frames    {ms(spectrogram)}")
    if not encoder_head:
        print(f"  log_mel, all BLAS threads {ms(timed(lambda: features.log_mel(y, model.feature_config), args.runs))}")
    long_clip = np.tile(y, int(np.ceil(10 * options.sample_rate / len(y))))[: 10 * options.sample_rate]
    timeline = timed(lambda: model.predict_timeline(long_clip, options.sample_rate), max(args.runs // 10, 5))
    print(f"  predict_timeline(10 s)  {ms(timeline)}  ({len(model.predict_timeline(long_clip, options.sample_rate).starts)} windows)")

    print(f"\nfirst prediction in a fresh process (median of {args.fresh})")
    for backend in ("litert",) if encoder_head else ("litert", "tensorflow"):
        rows = []
        for _ in range(args.fresh):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", FIRST_PREDICTION, str(directory), str(CLIPS["EmoDB wav 16 kHz"]),
                                   backend], capture_output=True, text=True, check=True, cwd=REPO)
            wall = time.perf_counter() - start
            loaded, first, rss, heavy = done.stdout.split()
            rows.append((wall, float(loaded), float(first), float(rss), heavy))
        median = [statistics.median(r[i] for r in rows) for i in range(4)]
        print(f"  {backend:<11} spawn->first result {median[0]:.2f} s (import+load {median[1]:.2f} s, "
              f"first predict done {median[2]:.2f} s after start), peak RSS {median[3]:.0f} MB, "
              f"heavy modules: {rows[0][4]}")
    print(json.dumps({"load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
