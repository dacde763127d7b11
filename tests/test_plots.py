"""serwidgets.plots: every figure has a title and labelled axes, and draws the data it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: CI has no display

import numpy as np
import pandas as pd
import pytest

from serwidgets import plots


def _labelled(fig):
    """Every data axes has both axis labels, and the figure or its axes a title."""
    data_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert data_axes
    for ax in data_axes:
        assert ax.get_xlabel() and ax.get_ylabel(), ax
    suptitle = fig._suptitle.get_text() if fig._suptitle else ""
    assert suptitle or all(ax.get_title() for ax in data_axes)


@pytest.fixture
def table(rng):
    return pd.DataFrame({
        "emotion": rng.choice(["angry", "sad", "happy"], 60),
        "corpus": rng.choice(["emodb", "ravdess"], 60),
        "duration": rng.uniform(1.0, 5.0, 60),
    })


def test_counts_bars_match_value_counts(table):
    fig = plots.counts(table, "emotion")
    ax = fig.axes[0]
    heights = sorted(p.get_height() for p in ax.patches if p.get_height() > 0)
    assert heights == sorted(table["emotion"].value_counts().tolist())
    assert ax.get_ylabel() == "Recordings (count)" and ax.get_title()
    _labelled(fig)


def test_durations_has_units(table):
    fig = plots.durations(table, hue="corpus")
    assert fig.axes[0].get_xlabel() == "Duration (s)"
    _labelled(fig)


def test_confusion_matrix_rows_are_percentages():
    fig = plots.confusion_matrix([[8, 2], [1, 3]], labels=["angry", "sad"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["80", "20", "25", "75"]
    assert fig.axes[0].get_xlabel() == "Predicted emotion"
    assert fig.axes[0].get_ylabel() == "True emotion"


def test_confusion_matrix_counts():
    fig = plots.confusion_matrix(np.array([[8, 2], [1, 3]]), labels=["angry", "sad"],
                                 normalize=False)
    assert [t.get_text() for t in fig.axes[0].texts] == ["8", "2", "1", "3"]


def test_per_speaker_mean_line():
    fig = plots.per_speaker({"emodb:03": 0.5, "emodb:08": 0.7})
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == pytest.approx([50.0, 70.0])
    assert ax.lines[0].get_ydata()[0] == pytest.approx(60.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["03", "08"]
    assert ax.get_xlabel() == "Held-out speaker (emodb)"
    _labelled(fig)


def test_per_speaker_keeps_names_and_colours_corpora():
    fig = plots.per_speaker({"emodb:03": 0.5, "ravdess:01": 0.7, "ravdess:02": 0.6})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["emodb:03", "ravdess:01", "ravdess:02"]
    colours = [p.get_facecolor() for p in ax.patches[:3]]
    assert colours[0] != colours[1] and colours[1] == colours[2]
    legend = {t.get_text(): h for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}
    assert legend["emodb"].get_facecolor() == colours[0]
    assert legend["ravdess"].get_facecolor() == colours[1]


def test_learning_curves_panels_and_validation():
    history = {"loss": [1.2, 0.9, 0.7], "val_loss": [1.3, 1.1, 1.0], "accuracy": [0.3, 0.5, 0.6]}
    fig = plots.learning_curves(history)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    assert all(ax.get_xlabel() == "Epoch" for ax in fig.axes)


def test_learning_curves_mark_best_epoch():
    fig = plots.learning_curves({"loss": [1.2, 0.9, 1.0], "val_loss": [1.3, 1.1, 1.2],
                                 "best_epoch": 2}, metrics=["loss"])
    assert list(fig.axes[0].lines[-1].get_xdata()) == [2, 2]


def test_learning_curves_rejects_unknown_metrics():
    with pytest.raises(ValueError, match="none of the metrics"):
        plots.learning_curves({"loss": [1.0]}, metrics=["f1"])


def test_metric_vs_snr_draws_clean_reference():
    results = {"snr_db": [0, 10, 20, np.inf], "UA": [0.3, 0.5, 0.6, 0.7]}
    fig = plots.metric_vs_snr(results)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "SNR (dB)" and ax.get_ylabel() == "UA (%)"
    ys = [list(line.get_ydata()) for line in ax.lines]
    assert [30.0, 50.0, 60.0] in ys          # the noisy points, in percent
    assert [70.0, 70.0] in ys                # clean speech as a horizontal reference


def test_metric_vs_snr_clean_line_takes_its_curve_colour():
    results = {"snr_db": [0, 10, np.inf, 0, 10, np.inf], "UA": [0.2, 0.4, 0.7, 0.3, 0.5, 0.6],
               "result": ["a"] * 3 + ["b"] * 3}
    ax = plots.metric_vs_snr(results, hue="result").axes[0]
    colour = {tuple(line.get_ydata()): line.get_color() for line in ax.lines}
    assert colour[(70.0, 70.0)] == colour[(20.0, 40.0)]
    assert colour[(60.0, 60.0)] == colour[(30.0, 50.0)]
    assert colour[(70.0, 70.0)] != colour[(60.0, 60.0)]


def _calibrated(ua, clips=None, draw="round-robin", **extra):
    from tests.test_results import toy_result

    calibration = None if clips is None else {"clips": clips, "draw": draw, "transductive": clips == "all"}
    return toy_result(metrics={"UA": ua}, calibration=calibration, **extra)


def test_calibration_curve_lines_per_draw_from_the_uncalibrated_start():
    results = [_calibrated(0.5), _calibrated(0.6, 5), _calibrated(0.7, 20), _calibrated(0.65, 10),
               _calibrated(0.45, 10, "neutral"), _calibrated(0.8, "all")]
    fig = plots.calibration_curve(results)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert list(lines["round-robin clips"].get_xdata()) == [0, 5, 10, 20]
    assert list(lines["round-robin clips"].get_ydata()) == pytest.approx([50.0, 60.0, 65.0, 70.0])
    assert list(lines["neutral clips"].get_xdata()) == [0, 10]
    assert list(lines["neutral clips"].get_ydata()) == pytest.approx([50.0, 45.0])
    upper = [label for label in lines if "transductive" in label]
    assert len(upper) == 1 and list(lines[upper[0]].get_ydata()) == pytest.approx([80.0, 80.0])
    assert ax.get_xlabel() == "Calibration clips per test speaker" and ax.get_ylabel() == "UA (%)"
    _labelled(fig)


def test_calibration_curve_draws_labelled_calibration_as_its_own_line():
    def labelled(ua, clips, noise=0.0):
        r = _calibrated(ua, clips)
        r.calibration.update(labelled=True, label_noise=noise)
        return r

    results = [_calibrated(0.5), _calibrated(0.6, 10), labelled(0.75, 10), labelled(0.8, 20), labelled(0.59, 10, 1.0)]
    lines = {line.get_label(): line for line in plots.calibration_curve(results).axes[0].lines}
    assert list(lines["round-robin clips, labelled"].get_ydata()) == pytest.approx([50.0, 75.0, 80.0])
    assert list(lines["round-robin clips"].get_xdata()) == [0, 10]
    assert list(lines["round-robin clips, labelled (100% random labels)"].get_ydata()) == pytest.approx([50.0, 59.0])


def test_calibration_curve_reads_top_level_metrics():
    results = [_calibrated(0.9, loco_mean_UA=0.4), _calibrated(0.9, 10, loco_mean_UA=0.55)]
    ax = plots.calibration_curve(results, metric="loco_mean_UA").axes[0]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([40.0, 55.0])
    assert ax.get_ylabel() == "Mean UA over held-out corpora (%)"


def test_calibration_curve_needs_results():
    with pytest.raises(ValueError, match="no results"):
        plots.calibration_curve([])


def test_calibration_curve_with_only_the_upper_bound():
    ax = plots.calibration_curve([_calibrated(0.8, "all")]).axes[0]
    assert [list(line.get_ydata()) for line in ax.lines] == [[80.0, 80.0]]
