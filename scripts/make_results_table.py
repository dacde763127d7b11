"""Render the README results table from results/*.json (written by ``ser evaluate``).

Prints the table; with ``--readme README.md`` it replaces the lines between
``<!-- results:begin -->`` and ``<!-- results:end -->`` in that file instead, so the README
never carries a typed-in score.

Run: ``.venv/bin/python scripts/make_results_table.py [--results results] [--readme README.md]``
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serwidgets.results import results_table  # noqa: E402

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(REPO / "results"))
    parser.add_argument("--readme", default=None, help="file whose marked section is replaced")
    args = parser.parse_args()
    table = results_table(args.results)
    if args.readme is None:
        print(table, end="")
        return 0
    readme = Path(args.readme)
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        print(f"{readme}: no {BEGIN} ... {END} section", file=sys.stderr)
        return 1
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{table}{END}", text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
