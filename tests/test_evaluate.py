"""Metrics on known confusions, protocols on real EmoDB speakers, results files, the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serwidgets import evaluate, results, splits
from serwidgets.baseline import BaselineClassifier
from serwidgets.cli import main
from serwidgets.evaluate import CalibrationDraw, Protocol

from tests.conftest import EMODB3_SPEAKERS as SPEAKERS
from tests.conftest import EMODB3_TASK as TASK
from tests.test_results import toy_result


def quiet(message):
    """evaluate's progress messages, not shown."""


def test_scores_of_a_known_confusion():
    # Confusion (rows true, columns predicted): [[3, 1, 0], [0, 2, 0], [2, 0, 2]].
    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 0, 0, 2, 2]
    s = evaluate.scores(y_true, y_pred, TASK)
    assert s["confusion"] == [[3, 1, 0], [0, 2, 0], [2, 0, 2]]
    assert s["WA"] == pytest.approx(7 / 10)
    assert s["UA"] == pytest.approx((3 / 4 + 2 / 2 + 2 / 4) / 3)
    precision, recall = np.array([3 / 5, 2 / 3, 2 / 2]), np.array([3 / 4, 2 / 2, 2 / 4])
    assert s["macro_F1"] == pytest.approx(np.mean(2 * precision * recall / (precision + recall)))
    assert s["recall"] == pytest.approx({"angry": 0.75, "neutral": 1.0, "sad": 0.5})


def test_scores_ignore_classes_absent_from_the_test_set():
    s = evaluate.scores([0, 0, 1], [0, 2, 1], TASK)
    assert s["UA"] == pytest.approx((1 / 2 + 1) / 2)
    assert set(s["recall"]) == {"angry", "neutral"}


def test_protocol_splits(emodb3):
    table, folds = Protocol("loso").splits(emodb3)
    assert len(folds) == len(SPEAKERS) and table is emodb3
    for fold in folds:
        splits.check_leakage(table, fold)
    table, folds = Protocol("leaky").splits(emodb3)
    assert len(table) == (1 + evaluate.LEAKY_COPIES) * len(emodb3)
    with pytest.raises(splits.LeakageError):
        splits.check_leakage(table, folds[0], speaker_independent=False)
    with pytest.raises(ValueError, match="protocol"):
        Protocol("holdout")
    with pytest.raises(ValueError, match="no fold named"):
        Protocol("loso", only_folds=["loso:emodb:99"]).splits(emodb3)
    assert [f.name for f in Protocol("loso", only_folds=["loso:emodb:08"]).splits(emodb3)[1]] == ["loso:emodb:08"]


def test_leaky_protocol_inflates_the_score(emodb3, tmp_path):
    model = BaselineClassifier(TASK, "logreg")

    loso = evaluate.evaluate(emodb3, model, Protocol("loso", snrs=(None, 0.0)), task=TASK, log=quiet)
    leaky = evaluate.evaluate(emodb3, model, Protocol("leaky"), task=TASK, log=quiet)
    assert not hasattr(model, "pipeline_")  # each fold fitted a clone; the instance passed in stays unfitted
    assert loso.classifier == "baseline" and loso.recipe == model.to_recipe()
    assert not loso.leaky and loso.leakage is None
    assert leaky.leaky and "leaks" in leaky.leakage
    assert leaky.metrics["UA"] > loso.metrics["UA"] + 0.1
    assert set(loso.per_speaker) == set(SPEAKERS)
    assert loso.metrics["n"] == len(emodb3) and [f["C"] for f in loso.folds] == [0.1] * len(SPEAKERS)
    # 0 dB of white noise on the test clips costs accuracy.
    assert loso.snr_UA["0"] < loso.snr_UA["clean"]
    # The pooled clean predictions are what the metrics were computed from.
    p = loso.predictions
    assert p.probabilities.shape == (len(emodb3), len(TASK)) and p.correct.mean() == pytest.approx(loso.metrics["WA"])
    np.testing.assert_allclose(p.probabilities.sum(1), 1, atol=1e-5)
    assert sorted(set(p.speaker)) == SPEAKERS and set(p.fold) == set(range(len(SPEAKERS)))

    for name, result in (("loso", loso), ("leaky", leaky)):
        results.write_results(result, f"emodb3-{name}", tmp_path)
    saved = json.loads((tmp_path / "emodb3-loso.json").read_text())
    assert saved["metrics"]["UA"] == pytest.approx(loso.metrics["UA"]) and "predictions" not in saved
    (back,) = [r for r in results.load_results(tmp_path) if r.name == "emodb3-loso"]
    np.testing.assert_array_equal(back.predictions.probabilities, p.probabilities)
    assert "LEAKY" in (tmp_path / "emodb3-leaky.md").read_text()
    table = results.results_table(tmp_path)
    assert f"{loso.metrics['UA']:.3f}" in table and "inflated" in table
    assert len(table.strip().splitlines()) == 2 + 2


def test_speaker_normalised_results_are_flagged(emodb3, tmp_path):
    classifier = BaselineClassifier(TASK, feature_set="egemaps", speaker_norm=True)
    result = evaluate.evaluate(emodb3, classifier, Protocol("loso", only_folds=["loso:emodb:03"]), task=TASK,
                               log=quiet)
    assert result.speaker_norm and result.n_folds == 1
    assert result.recipe["feature_set"] == "egemaps" and result.folds[0]["C"] in (0.001, 0.01, 0.1)
    assert results.model_label(result) == "baseline (egemaps + logreg)"
    results.write_results(result, "emodb3-speaker-norm", tmp_path)
    assert "speaker-normalised" in (tmp_path / "emodb3-speaker-norm.md").read_text()
    assert "speaker-normalised (transductive)" in results.results_table(tmp_path)


def test_the_classifier_must_fit_the_task_and_the_protocol(emodb3):
    protocol = Protocol("loso", only_folds=["loso:emodb:08"])
    with pytest.raises(ValueError, match="labels"):
        evaluate.evaluate(emodb3, BaselineClassifier(("angry", "sad")), protocol, task=TASK)
    with pytest.raises(ValueError, match="cannot be calibrated"):
        evaluate.evaluate(emodb3, BaselineClassifier(TASK), Protocol("loso", calibration=CalibrationDraw(5)),
                          task=TASK)


def test_files_left_out_by_the_corpus_loader_are_recorded(emodb3, tmp_path):
    df = emodb3.copy()
    df.attrs = {**emodb3.attrs, "skipped": ["emodb/wav/notes.wav"],
                "faults": {"unparseable_name": ["emodb/wav/notes.wav"], "gender_conflict": ["emodb/wav/kept.wav"]}}
    result = evaluate.evaluate(df, BaselineClassifier(TASK), Protocol("loso", only_folds=["loso:emodb:08"]),
                               task=TASK, log=quiet)
    assert result.corpus_faults == {"unparseable_name": ["emodb/wav/notes.wav"]}
    _, md = results.write_results(result, "faults", tmp_path)
    assert "Files the corpus loaders left out (names or labels): unparseable_name 1." in md.read_text()


def test_calibration_draws_and_protocol_fields():
    rng = np.random.default_rng(0)
    emotions = np.array(["angry", "sad", "neutral"] * 4)
    round_robin = evaluate._draw(emotions, 6, "round-robin", rng)
    assert sorted(np.unique(emotions[round_robin], return_counts=True)[1]) == [2, 2, 2]
    picked = evaluate._draw(emotions, 5, "random", rng)
    assert len(set(picked)) == 5 and evaluate._draw(emotions, 12, "random", rng) is None  # none left to score
    assert set(emotions[evaluate._draw(emotions, 3, "neutral", rng)]) == {"neutral"}
    assert evaluate._draw(emotions, 5, "neutral", rng) is None  # only 4 neutral clips
    assert CalibrationDraw("all").transductive and not CalibrationDraw(0).transductive
    with pytest.raises(ValueError, match="clips"):
        CalibrationDraw(-1)


def test_cli_prints_the_table(tmp_path, capsys):
    results.write_results(toy_result(), "toy-random", tmp_path)
    assert main(["evaluate", "--table", "--results", str(tmp_path)]) == 0
    assert "toy-random" in capsys.readouterr().out


def test_cli_builds_the_classifier_and_protocol_from_its_options():
    from serwidgets.cli import build_parser
    from serwidgets.cli._options import make_classifier
    from serwidgets.cli.evaluate import protocol

    parser = build_parser()
    args = parser.parse_args(["evaluate", "--classifier", "baseline", "--estimator", "svm", "--C", "1",
                              "--speaker-norm", "--task", "emodb7", "--feature-set", "egemaps"])
    classifier = make_classifier(args)
    assert isinstance(classifier, BaselineClassifier)
    assert classifier.to_recipe() == {"feature_set": "egemaps", "estimator": "svm", "C": 1.0, "speaker_norm": True,
                                      "seed": 0}
    assert protocol(args) == Protocol("loso", snrs=(None, 20.0, 10.0, 5.0, 0.0))
    args = parser.parse_args(["evaluate", "--classifier", "whisper", "--protocol", "loco", "--layers", "auto",
                              "--calibration-clips", "10", "--calibration-draw", "random"])
    assert make_classifier(args).to_recipe()["layers"] == "auto"
    assert protocol(args).calibration == CalibrationDraw(10, "random")
    assert parser.parse_args(["train", "--out", "x"]).classifier == "cnn"


@pytest.mark.parametrize("argv", [
    ["evaluate", "--model", "baseline"],            # the old name of --classifier
    ["evaluate", "--classifier", "svm"],            # the old meaning of --classifier (now --estimator)
    ["train", "--out", "x", "--data", "d"],          # the old name of --data-dir
    ["evaluate", "--calibration-kind", "varied"],   # the old name of --calibration-draw
])
def test_cli_knows_one_name_per_option(argv, capsys):
    from serwidgets.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert "error" in capsys.readouterr().err


def test_cli_card_option_writes_the_scores_into_a_bundle_of_the_same_recipe(emodb3, tmp_path, monkeypatch, capsys):
    """``ser evaluate --card``: the cross-validated scores of the recipe go into its bundle's card."""
    from serwidgets.card import BundleError, ModelCard
    from serwidgets.cli import evaluate as cli_evaluate

    from serwidgets.labels import task_labels

    BaselineClassifier(task_labels("emotion6")).fit(emodb3).save(tmp_path / "b", task="emotion6")
    monkeypatch.setattr(cli_evaluate, "load_table", lambda args: emodb3)
    run = ["evaluate", "--classifier", "baseline", "--task", "emotion6", "--snr", "--name", "b-cv",
           "--results", str(tmp_path / "results"), "--card", str(tmp_path / "b")]
    assert main(run) == 0
    card, saved = ModelCard.read(tmp_path / "b"), results.load_results(tmp_path / "results")[0]
    assert card.metrics["UA"] == saved.metrics["UA"] and card.metrics["protocol"] == "loso (4 folds)"
    assert card.metrics["results_file"] == "results/b-cv.json" and "metrics written to" in capsys.readouterr().out
    with pytest.raises(BundleError, match="recipe"):  # the scores of another recipe are refused
        main([*run, "--C", "0.01"])


def test_cli_names_a_speaker_normalised_result_speaker_norm(emodb3, tmp_path, monkeypatch):
    from serwidgets.cli import evaluate as cli_evaluate

    monkeypatch.setattr(cli_evaluate, "load_table", lambda args: emodb3)
    monkeypatch.setattr(evaluate, "evaluate", lambda *a, **k: toy_result(speaker_norm=True))
    assert main(["evaluate", "--corpora", "emodb", "--task", "emodb7", "--classifier", "baseline",
                 "--feature-set", "egemaps", "--speaker-norm", "--results", str(tmp_path)]) == 0
    assert (tmp_path / "emodb-emodb7-loso-baseline-egemaps-speaker-norm.json").exists()


def test_labelled_draws_are_the_unlabelled_ones_with_labels():
    """Labelled and unlabelled runs calibrate with the same clips; label noise changes only the labels."""
    import pandas as pd

    class Recorder:
        def __init__(self):
            self.calls = []

        def calibrate(self, df, labels=None):
            self.calls.append((list(df["path"]), labels))
            return object()

    emotions = ["angry", "sad", "neutral"] * 6
    table = pd.DataFrame({"path": [f"{i}.wav" for i in range(36)], "emotion": emotions + ["happy"] * 18,
                          "speaker": ["a"] * 18 + ["b"] * 18})   # b has clips of one emotion only
    test = np.arange(36)
    runs = {}
    for name, draw in {"plain": CalibrationDraw(6), "labelled": CalibrationDraw(6, labelled=True),
                       "noisy": CalibrationDraw(6, labelled=True, label_noise=1.0)}.items():
        recorder = Recorder()
        scored, _, info = evaluate.calibrate_test_speakers(recorder, table, test, draw, seed=3)
        runs[name] = (recorder.calls, list(scored))
    assert runs["plain"][1] == runs["labelled"][1] == runs["noisy"][1]
    for (paths, none), (same, labels), (again, noisy) in zip(*(runs[k][0] for k in ("plain", "labelled", "noisy"))):
        assert paths == same == again and none is None
        assert labels == [table.set_index("path").loc[p, "emotion"] for p in paths]
        assert set(noisy) <= {"angry", "sad", "neutral", "happy"}  # any emotion of the test clips
    assert all(labels != noisy for (_, labels), (_, noisy) in zip(runs["labelled"][0], runs["noisy"][0]))
    assert CalibrationDraw(10, labelled=True).to_dict() == {"clips": 10, "draw": "round-robin", "labelled": True,
                                                            "label_noise": 0.0}
    with pytest.raises(ValueError, match="label_noise needs labelled=True"):
        CalibrationDraw(10, label_noise=0.5)
    with pytest.raises(ValueError, match="share in"):
        CalibrationDraw(10, labelled=True, label_noise=2.0)


@pytest.fixture(scope="module")
def two_corpora(emodb_root, ravdess_root):
    """EmoDB and RAVDESS, emotion6: leave one corpus out has two folds, each trained on the other."""
    from serwidgets import corpora, labels

    return labels.select_task(corpora.load_corpora(["emodb", "ravdess"], emodb_root.parent), "emotion6")


def test_labelled_calibration_beats_unlabelled_across_corpora(two_corpora, tmp_path):
    """On real corpora (train on RAVDESS, test on EmoDB's speakers, and the reverse), 10 labelled
    round-robin clips of each test speaker beat the same 10 clips unlabelled; random labels cost
    little against unlabelled (the evidence gate)."""
    from serwidgets.embedding_classifier import EmbeddingClassifier
    from serwidgets.labels import task_labels

    classifier = EmbeddingClassifier(task_labels("emotion6"))

    def run(**draw):
        return evaluate.evaluate(two_corpora, classifier, Protocol("loco", calibration=CalibrationDraw(10, **draw)),
                                 task="emotion6", log=quiet)

    unlabelled, labelled, random_labels = run(), run(labelled=True), run(labelled=True, label_noise=1.0)
    assert labelled.calibration["clips_used"] == unlabelled.calibration["clips_used"] > 0
    assert labelled.metrics["n"] == unlabelled.metrics["n"]
    assert labelled.loco_mean_UA > unlabelled.loco_mean_UA + 0.05, (labelled.per_corpus, unlabelled.per_corpus)
    for corpus, ua in unlabelled.per_corpus.items():
        assert labelled.per_corpus[corpus] > ua, (corpus, labelled.per_corpus, unlabelled.per_corpus)
    assert random_labels.loco_mean_UA > unlabelled.loco_mean_UA - 0.03, random_labels.per_corpus
    gate = labelled.calibration
    assert 0 < gate["speakers_labels_used"] <= gate["speakers_calibrated"] == 34
    assert random_labels.calibration["speakers_labels_used"] < gate["speakers_labels_used"] / 2
    _, md = results.write_results(labelled, "two-labelled", tmp_path)
    assert "round-robin draw, labelled) calibrate" in md.read_text()
    assert "passed the evidence gate for" in md.read_text()
    assert "(round-robin draw, labelled; scored on the rest)" in results.results_table(tmp_path)


def test_cli_names_labelled_calibration_runs():
    from serwidgets.cli import build_parser
    from serwidgets.cli.evaluate import protocol, result_name

    parser = build_parser()
    args = parser.parse_args(["evaluate", "--classifier", "whisper", "--protocol", "loco", "--corpora", "emodb",
                              "ravdess", "--calibration-clips", "10", "--calibration-labels"])
    assert protocol(args).calibration == CalibrationDraw(10, labelled=True)
    assert result_name(args) == "emodb+ravdess-emotion6-loco-whisper-cal10-labelled"
    args = parser.parse_args(["evaluate", "--classifier", "whisper", "--calibration-clips", "5",
                              "--calibration-labels", "--label-noise", "1", "--calibration-draw", "random"])
    assert protocol(args).calibration == CalibrationDraw(5, "random", labelled=True, label_noise=1.0)
    assert result_name(args).endswith("-cal5-random-labelled-noise1")
    with pytest.raises(SystemExit, match="need --calibration-clips"):
        main(["evaluate", "--classifier", "whisper", "--calibration-labels"])
