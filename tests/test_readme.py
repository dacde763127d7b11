"""The README's scores come from files that commands wrote, never from typing."""

from __future__ import annotations

import re
from pathlib import Path

from serwidgets.card import EncoderHeadCard
from serwidgets.results import results_table

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _sections():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_results_table", REPO / "scripts" / "make_results_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SECTIONS


def test_results_tables_are_generated_from_results_files():
    sections = _sections()
    assert sections["results"] is results_table and {"calibration-loco", "calibration-shipped"} <= set(sections)
    for name, make in sections.items():
        section = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", README, re.DOTALL)
        assert section, f"README has no {name} section"
        assert section.group(1) == make(REPO / "results"), (
            f"README {name} table is stale: run scripts/make_results_table.py --readme README.md")


def test_shipped_model_figures_match_its_card():
    """The paragraph on what the shipped model scores quotes its card's figures, in that order."""
    card = EncoderHeadCard.read(REPO / "models" / "ser-emotion6")
    paragraph = re.search(r"^What it scores \(card.*?(?=\n\n)", README, re.DOTALL | re.MULTILINE)
    assert paragraph, "README has no 'What it scores (card ...' paragraph"
    quoted = [float(x) for x in re.findall(r"\b[01]\.\d{3}\b", paragraph.group(0))]
    metrics = card.metrics
    assert f"calibrated with {metrics['calibrated']['clips']} varied clips" in paragraph.group(0)
    expected = [
        metrics["UA"],
        1 / len(card.labels),  # chance level, quoted beside it
        metrics["per_corpus_UA"]["emodb"],
        metrics["per_corpus_UA"]["ravdess"],
        metrics["snr_UA"]["20"],
        metrics["calibrated"]["UA"],
        metrics["calibrated_labelled"]["UA"],  # the same clips with their emotion as a label
    ]
    assert quoted[: len(expected)] == [round(value, 3) for value in expected], paragraph.group(0)


def test_honest_with_strangers_quotes_the_shipped_cards_confidence():
    """The paragraph on the shipped card's confidence quotes its temperatures and thresholds, in order."""
    import numpy as np

    from serwidgets.confidence import takes_accuracy_logit

    rules = EncoderHeadCard.read(REPO / "models" / "ser-emotion6").confidence.rules
    paragraph = re.search(r"^The shipped card's confidence.*?(?=\n\n)", README, re.DOTALL | re.MULTILINE)
    assert paragraph, "README has no 'The shipped card's confidence' paragraph"
    quoted = [float(x) for x in re.findall(r"\b\d+\.\d\d\b", paragraph.group(0))]
    takes = rules["calibrated_labelled"]
    expected = [np.exp(rules["uncalibrated"].intercept), rules["uncalibrated"].threshold,
                np.exp(rules["calibrated"].intercept), rules["calibrated"].threshold,
                *(takes.temperature([[takes_accuracy_logit(right, 10)]])[0] for right in (0, 6, 10)), takes.threshold]
    assert quoted == [round(float(value), 2) for value in expected], paragraph.group(0)
