"""Labelled calibration speed: the update after a take or a correction, and the leave-one-take-out.

With the shipped model's head and real takes (EmoDB speaker 16, emotions round-robin, their
pooled states from the embedding cache): what :class:`serwidgets.widgets.Calibrator` does after
a take is in (encoded on arrival, not timed here unless said), p50/p90 over ``--runs``:

* **take**: ``Calibration.update(features, seconds, labels=[feeling])`` + ``fit(head)`` (statistics,
  evidence gate, the correction's Newton fit), going from k to k + 1 labelled takes;
* **correction, new clip**: the same, for a result "keep learning" had not added;
* **correction, relabel**: ``add_label`` + ``fit`` for one it had (statistics unchanged);
* **encode + take**: the take's encoding (``Model.features``) as well, for scale;
* **leave-one-take-out** of k takes (:meth:`~serwidgets.calibration.Calibration.leave_one_out`: k
  fits; the dashboard computes it after the update is on screen);
* scoring one clip with a fitted calibration.

Target (issue 17): the update after a take or a correction <= 50 ms on this machine. The load
average is printed before and after: a figure measured on a loaded machine is not a product figure.

Usage::

    python benchmarks/bench_calibration.py [--runs 30]
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
from serwidgets import audio, corpora, embeddings, labels  # noqa: E402
from serwidgets.calibration import Calibration  # noqa: E402
from serwidgets.model import load_model  # noqa: E402

SPEAKER = "emodb:16"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps({"load_average_before": os.getloadavg()}))
    model = load_model("ser-emotion6", num_threads=1)
    head = model.calibration_head
    df = labels.select_task(corpora.load_corpus("emodb"), "emotion6")
    df = df[df["speaker"] == SPEAKER].reset_index(drop=True)
    # Round-robin over the speaker's emotions, as the prompts are.
    order = np.argsort(df.groupby("emotion").cumcount().to_numpy() * 10 + df["emotion"].astype("category").cat.codes,
                       kind="stable")
    df = df.iloc[order].reset_index(drop=True)
    X = embeddings.cached_embeddings(df, progress=False).reshape(len(df), -1)
    y = list(df["emotion"])
    print(f"speaker {SPEAKER}: {len(df)} clips; head {len(head.labels)} labels x {len(head.columns)} columns")
    with threadpool_limits(limits=1, user_api="blas"):  # as in a dashboard kernel (one BLAS thread)
        for k in (3, 10, 20):
            def calibrated(k=k):
                cal = Calibration.from_features(X[:k], None, labels=y[:k])
                cal.fit(head)
                return cal

            take = timed(lambda cal: (cal.update(X[k:k + 1], [3.0], [y[k]]), cal.fit(head)), args.runs, calibrated)
            new = timed(lambda cal: (cal.update(X[k + 1:k + 2], [3.0], ["sad"]), cal.fit(head)), args.runs,
                        calibrated)

            def learned(k=k):
                cal = calibrated(k)
                cal.update(X[k + 1:k + 2], [3.0])
                cal.fit(head)
                return cal

            relabel = timed(lambda cal: (cal.add_label(X[k + 1:k + 2], "sad"), cal.fit(head)), args.runs, learned)
            loo = timed(lambda cal: cal.leave_one_out(head), max(args.runs // 3, 3), calibrated)
            cal = calibrated()
            score = timed(lambda: cal.predict_proba(head, X[k:k + 1]), args.runs)
            print(f"k={k:2d} -> {k + 1} takes (labels used: {cal.labels_used(head)}):")
            print(f"  take (update + fit)              {ms(take)}")
            print(f"  correction, new clip             {ms(new)}")
            print(f"  correction, relabel a learned one{ms(relabel)}")
            print(f"  leave-one-take-out of {k:2d} takes   {ms(loo)}")
            print(f"  scoring a clip, fitted           {ms(score)}")
        waveform = audio.load(df["path"].iloc[10], model.audio_options)
        encode = timed(lambda cal: (cal.update(model.features([waveform]), [3.0], [y[10]]), cal.fit(head)), args.runs,
                       lambda: Calibration.from_features(X[:10], None, labels=y[:10]))
        print(f"encode the 11th take + update + fit  {ms(encode)}")
    print(json.dumps({"load_average_after": os.getloadavg()}))


if __name__ == "__main__":
    main()
