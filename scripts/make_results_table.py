"""Render the README results tables from results/*.json (written by ``ser evaluate``),
results/levers/*.json (written by ``scripts/run_levers.py``) and the issue-19 CSVs.

Prints the results table; with ``--readme README.md`` it replaces the lines between
``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in that file for every table of
:data:`SECTIONS` instead (the results table, the calibration tables, the lever table and the
teach-it tables), so the README never carries a typed-in score.

Run: ``.venv/bin/python scripts/make_results_table.py [--results results] [--readme README.md]``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from serwidgets.results import (calibration_by_corpus, calibration_table, confidence_table, find_result,  # noqa: E402
                                load_results, new_tasks_table, personal_table, results_table)

#: The lever table's groups, in order (scripts/run_levers.py refuses any other).
LEVER_GROUPS = ("baseline", "augmentation", "head", "states and depth", "speaker normalisation and balance",
                "fine-tuning", "ensemble")


def _wall(row: dict) -> str:
    if not row.get("wall_seconds"):
        return "–"
    load = row.get("load_average")
    where = f"load {max(load):.0f}" if load else "shared machine, loaded"
    return f"{row['wall_seconds'] / 60:.1f} min ({where})"


def levers_table(directory) -> str:
    """The README's lever table (issue 18): one row per ``<directory>/levers/*.json``, then what
    each lever is.

    Columns: mean UA over the 7 held-out corpora and its difference from the ``baseline`` row
    (for a lever run on some folds only, the mean difference on those folds), UA per language (one
    held-out corpus each), expected calibration error mean / max over held-out corpora, wall time
    and the script that measured it. A lever that was not measured says so, and why.
    """
    rows = {path.stem: json.loads(path.read_text()) for path in sorted((Path(directory) / "levers").glob("*.json"))}
    for name, row in rows.items():
        if row["group"] not in LEVER_GROUPS:
            raise ValueError(f"results/levers/{name}.json: unknown group {row['group']!r}")
    base = rows.get("baseline")
    languages = sorted({lang for row in rows.values() for lang in row.get("per_language", {})})
    lines = ["| lever | kind | mean UA | Δ | " + " | ".join(languages)
             + " | ECE mean / max | wall time | measured by |",
             "|---|---|---|---|" + "---|" * len(languages) + "---|---|---|"]
    order = sorted(rows, key=lambda name: (LEVER_GROUPS.index(rows[name]["group"]), name != "baseline", name))
    legend = []
    for name in order:
        row = rows[name]
        if "not_measured" in row:
            lines.append(f"| {name} | {row['group']} | not measured | | " + " | ".join("" for _ in languages)
                         + " | | | – |")
            legend.append(f"- `{name}`: {row['description']}. **Not measured:** {row['not_measured']}.")
            continue
        folds = row["per_corpus"]
        mean = f"{row['mean_UA']:.3f}" if row.get("mean_UA") is not None else f"– ({len(folds)} of 7 folds)"
        delta = ""
        if base is not None and name != "baseline":
            diff = round(float(np.mean([ua - base["per_corpus"][c] for c, ua in folds.items()])), 3)
            delta = (f"{diff:+.3f}" if diff else "0.000") + ("" if row.get("mean_UA") is not None else " on its folds")
        cells = [f"{row['per_language'][lang]:.3f}" if lang in row["per_language"] else "–" for lang in languages]
        ece = f"{row['ECE_mean']:.3f} / {row['ECE_max']:.3f}" if row.get("ECE") else "–"
        lines.append(f"| {name} | {row['group']} | {mean} | {delta} | " + " | ".join(cells)
                     + f" | {ece} | {_wall(row)} | {row['produced_by'].split(' ')[0]} |")
        note = row.get("note")
        legend.append(f"- `{name}`: {row['description']}." + (f" {note[0].upper()}{note[1:]}." if note else ""))
    return "\n".join(lines) + "\n\n" + "\n".join(legend) + "\n"


#: Marked section of the README -> its table, from a results folder.
SECTIONS = {
    "results": results_table,
    # Leave one corpus out, 7 corpora: the mean over held-out corpora against k, and per corpus at k = 10.
    "calibration-loco": lambda d: calibration_table("emotion6-loco7-whisper", d),
    "calibration-loco-corpora": lambda d: calibration_by_corpus("emotion6-loco7-whisper", 10, d, leave_out=("urdu",)),
    # The shipped model's 5 speaker folds.
    "calibration-shipped": lambda d: calibration_table("ser-emotion6-kfold5", d),
    # Teach it your own classes (issue 19): one speaker, 4 emotions x 5 takes; new tasks against takes per class.
    "personal-takes": lambda d: personal_table("4x5", d),
    "new-tasks": new_tasks_table,
    # Issue 18: each lever on the same leave-one-corpus-out folds (scripts/run_levers.py).
    "levers": levers_table,
    # Confidence for strangers (issue 18): ECE per held-out corpus before and with the confidence, "not sure".
    "confidence-loco": lambda d: _confidence("emotion6-loco7-whisper", "", d),
    "confidence-loco-labelled": lambda d: _confidence("emotion6-loco7-whisper", "-cal10-labelled", d),
}


def _confidence(base: str, suffix: str, directory) -> str:
    saved = load_results(directory)
    return confidence_table(find_result(saved, name=f"{base}-confidence{suffix}"),
                            find_result(saved, name=f"{base}{suffix}"))


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(REPO / "results"))
    parser.add_argument("--readme", default=None, help="file whose marked section is replaced")
    args = parser.parse_args()
    if args.readme is None:
        print(results_table(args.results), end="")
        return 0
    readme = Path(args.readme)
    text = readme.read_text()
    for name, make in SECTIONS.items():
        begin, end = markers(name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(text):
            print(f"{readme}: no {begin} ... {end} section", file=sys.stderr)
            return 1
        table = make(args.results)
        text = pattern.sub(lambda _: f"{begin}\n{table}{end}", text)
    readme.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
