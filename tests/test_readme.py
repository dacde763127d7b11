"""The README's scores come from files that commands wrote, never from typing."""

from __future__ import annotations

import json
import re
from pathlib import Path

from serwidgets.evaluate import results_table

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_results_table_is_generated_from_results_files():
    section = re.search(r"<!-- results:begin -->\n(.*?)<!-- results:end -->", README, re.DOTALL)
    assert section, "README has no results section"
    assert section.group(1) == results_table(REPO / "results"), (
        "README results table is stale: run scripts/make_results_table.py --readme README.md"
    )


def test_shipped_model_figures_match_its_card():
    card = json.loads((REPO / "models" / "ser-emotion6" / "card.json").read_text())
    metrics = card["metrics"]
    quoted = [
        metrics["UA"],
        metrics["per_corpus_UA"]["emodb"],
        metrics["per_corpus_UA"]["ravdess"],
        metrics["snr_UA"]["20"],
    ]
    for value in quoted:
        assert f"{value:.3f}" in README, f"README does not quote the card's {value:.3f}"
    assert f"{1 / len(card['labels']):.3f}" in README  # chance level quoted beside it
