"""Training speed of the CNN-LSTM variants on this machine (prints clips/s).

Compares the default recipe's input and pooling (64 mels x 188 frames, 2x2 pooling, a quarter
of the paper's filters) with wider variants and the paper's setting (128 mels x 301 frames,
2x2/4x4/4x4/4x4 pooling), all as Keras ``train_on_batch`` on in-memory batches. The machine
is shared, so clips per CPU-second (process time) are printed beside wall-clock clips/s. Then prints the wall time of the recorded EmoDB LOSO run
(``results/*.json`` written by ``ser evaluate``), if there is one.

Run: ``.venv/bin/python benchmarks/bench_train.py [--steps 12] [--batch 32]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "results"

VARIANTS = [
    ("zhao2019_2d full width, 64x188", "zhao2019_2d", (64, 188), {}),
    ("zhao2019_2d half width, 64x188", "zhao2019_2d", (64, 188),
     {"filters": (32, 32, 64, 64), "lstm_units": 128}),
    ("zhao2019_2d quarter width (recipe), 64x188", "zhao2019_2d", (64, 188),
     {"filters": (16, 16, 32, 32), "lstm_units": 128}),
    ("zhao2019_2d paper pooling, 128x301", "zhao2019_2d", (128, 301), {"pooling": "paper"}),
    ("zhao2019_1d, 48000 samples", "zhao2019_1d", (48000,), {}),
]


def clips_per_second(name, shape, kwargs, steps, batch):
    import keras

    from serwidgets import nets

    keras.utils.set_random_seed(0)
    model = nets.build(name, shape, 7, **kwargs)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((batch, *shape)).astype("float32")
    y = np.arange(batch) % 7
    model.train_on_batch(x, y)  # build and trace outside the timing
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.train_on_batch(x, y)
    clips = steps * batch
    return clips / (time.perf_counter() - start), clips / (time.process_time() - cpu), model.count_params()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--only", help="run only variants whose label contains this text")
    args = parser.parse_args()
    for label, name, shape, kwargs in VARIANTS:
        if args.only and args.only not in label:
            continue
        rate, per_cpu, params = clips_per_second(name, shape, kwargs, args.steps, args.batch)
        print(f"{label:48s} {rate:7.1f} clips/s wall, {per_cpu:6.1f} per CPU-second "
              f"({params / 1e6:.2f} M parameters)", flush=True)
    from serwidgets.results import load_results

    for result in load_results(RESULTS):
        if result.protocol == "loso":
            print(f"{result.name}.json: {result.classifier} {result.protocol} on {result.corpora}: "
                  f"{result.wall_seconds / 60:.1f} min wall, UA {result.metrics['UA']:.3f}")


if __name__ == "__main__":
    main()
