"""Render the README results tables from results/*.json (written by ``ser evaluate``).

Prints the results table; with ``--readme README.md`` it replaces the lines between
``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in that file for every table of
:data:`SECTIONS` instead (the results table and the calibration tables), so the README never
carries a typed-in score.

Run: ``.venv/bin/python scripts/make_results_table.py [--results results] [--readme README.md]``
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serwidgets.results import (calibration_by_corpus, calibration_table, confidence_table, find_result,  # noqa: E402
                                load_results, results_table)

#: Marked section of the README -> its table, from a results folder.
SECTIONS = {
    "results": results_table,
    # Leave one corpus out, 7 corpora: the mean over held-out corpora against k, and per corpus at k = 10.
    "calibration-loco": lambda d: calibration_table("emotion6-loco7-whisper", d),
    "calibration-loco-corpora": lambda d: calibration_by_corpus("emotion6-loco7-whisper", 10, d, leave_out=("urdu",)),
    # The shipped model's 5 speaker folds.
    "calibration-shipped": lambda d: calibration_table("ser-emotion6-kfold5", d),
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
