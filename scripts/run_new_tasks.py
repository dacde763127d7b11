#!/usr/bin/env python
"""Write ``results/new-tasks.csv``: notebook 05's curves, accuracy against takes per class (:mod:`serwidgets.new_tasks`).

    python scripts/run_new_tasks.py --learners encoder egemaps stats --seeds 0 1 2      # ~15 min on 2 cores
    python scripts/run_new_tasks.py --learners cnn --seeds 0 1 2                        # ~2 h on 2 cores
    python scripts/run_new_tasks.py --table                                             # the README's table and figure

Rows of the learners run replace those learners' rows in the file; the others are kept, so the
slow CNN need not run again when the encoder's head changes. (The committed CNN rows come from
the research run of issue 19, ``/work/lab/r19/curves.py``, the same tasks, splits and learners:
its eGeMAPS and stats rows equal this script's exactly.) Each run also draws the README's
figure (``docs/new-tasks.png``) from the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from serwidgets import new_tasks, results  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(new_tasks.TASKS), choices=list(new_tasks.TASKS))
    parser.add_argument("--learners", nargs="+", default=list(new_tasks.LEARNERS), choices=new_tasks.LEARNERS)
    parser.add_argument("--takes", type=int, nargs="+", default=list(new_tasks.TAKES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--test", type=int, default=300, help="test clips per task (at most)")
    parser.add_argument("--epochs", type=int, default=20, help="of the CNN")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results", default=str(REPO / "results"), help=f"folder of {results.NEW_TASKS}")
    parser.add_argument("--table", action="store_true", help="print the mean UA table, draw the figure and stop")
    parser.add_argument("--figure", default=str(REPO / "docs" / "new-tasks.png"))
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    out = Path(args.results) / results.NEW_TASKS
    if not args.table:
        rows = new_tasks.run(args.tasks, args.learners, args.takes, args.seeds, test=args.test, epochs=args.epochs,
                             data_dir=args.data_dir)
        if out.is_file():
            kept = pd.read_csv(out)
            rows = pd.concat([kept[~(kept.learner.isin(args.learners) & kept.task.isin(args.tasks))], rows])
        rows.sort_values(["task", "learner", "seed", "takes"]).to_csv(out, index=False, float_format="%.6g")
        print(f"wrote {out}")
    curves = new_tasks.load_curves(args.results)
    print("mean UA over draws on held-out clips (columns: takes per class); draws per point:",
          sorted(curves.groupby(["task", "learner", "takes"]).size().unique().tolist()))
    print(results.new_tasks_table(args.results), end="")
    from serwidgets import plots

    plots.accuracy_vs_takes(curves, chance={task: 1 / k for task, k in new_tasks.TASKS.items()},
                            titles=new_tasks.TITLES).savefig(args.figure, dpi=110)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
