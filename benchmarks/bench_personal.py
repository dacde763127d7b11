"""Teaching speed, and a taught model's prediction against the shipped model's.

With real takes (one nEMO speaker: the corpus with the most clips per speaker; pooled states from
the embedding cache, as a widget keeps each take's features when it is recorded), p50/p90 over
``--runs``:

* **teach**: :func:`serwidgets.personal.teach_features` from the takes' features to a ready
  :class:`~serwidgets.model.PersonalModel` (standardisation, the prior, the ridge, the
  leave-one-take-out confusion, the temperature, the card), for classes x takes from 2 x 3 to 8 x 10
  (beyond the speaker's 6 emotions a class is a second set of takes of one);
* **head only**: a span's pooled states through the taught head, and through the shipped head;
* **predict a clip**: ``predict_file`` of a 3-s clip (decode, encoder, head) with the taught model and
  with the shipped model (the same encoder: the head is all that differs).

Targets (issue 19): teaching after the last take <= 100 ms; a taught model's prediction as fast as
the shipped model's. The load average is printed before and after: a figure measured on a loaded
machine is not a product figure.

Usage::

    python benchmarks/bench_personal.py [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from timing import ms, timed  # noqa: E402  (benchmarks/timing.py, beside this script)
from serwidgets import corpora, embeddings  # noqa: E402
from serwidgets.model import load_model  # noqa: E402
from serwidgets.personal import teach_features  # noqa: E402

LESSONS = ((2, 3), (2, 5), (4, 5), (4, 10), (6, 5), (8, 5), (8, 10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps({"load_average_before": os.getloadavg()}))
    model = load_model("ser-emotion6", num_threads=2)
    df = corpora.load_corpus("nemo")
    df = df[df["speaker"] == sorted(df["speaker"].unique())[0]].sort_values("path").reset_index(drop=True)
    X = embeddings.cached_embeddings(df, progress=False)
    emotions = sorted(df["emotion"].unique())
    print(f"speaker {df['speaker'].iloc[0]}: {len(df)} clips, emotions {emotions}")
    with threadpool_limits(limits=1, user_api="blas"):  # as in a dashboard kernel (one BLAS thread)
        for k, takes in LESSONS:
            rows, labels = [], []
            for j in range(k):
                emotion = emotions[j % len(emotions)]
                idx = np.flatnonzero(df["emotion"] == emotion)[(j // len(emotions)) * takes:][:takes]
                rows += list(idx)
                labels += [f"class {j}"] * takes
            features = X[rows]
            taught = teach_features(features, labels, model)
            times = timed(lambda: teach_features(features, labels, model), args.runs)
            print(f"teach {k} classes x {takes:2d} takes ({len(rows):2d}): {ms(times)}; "
                  f"leave-one-out accuracy {taught.leave_one_out().accuracy:.2f}")
        one = X[:1]
        print(f"head only, taught (4 x 5):  {ms(timed(lambda: taught.head.predict_features(one), 10 * args.runs))}")
        print(f"head only, shipped:         {ms(timed(lambda: model.head.predict_features(one), 10 * args.runs))}")
    path = df["path"].iloc[0]
    taught = teach_features(X[:15], [f"class {j}" for j in range(3) for _ in range(5)], model)
    for name, m in (("taught", taught), ("shipped", model)):
        m.predict_file(path)  # warm
    for name, m in (("taught", taught), ("shipped", model)):
        print(f"predict_file, {name:8s} {ms(timed(lambda: m.predict_file(path), args.runs))}")
    print(json.dumps({"load_average_after": os.getloadavg()}))


if __name__ == "__main__":
    main()
