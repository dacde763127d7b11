"""Heads on the frozen encoder, calibrated evaluation, and the encoder-head bundle: real EmoDB speakers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from serwidgets import embedding_classifier, evaluate
from serwidgets.embedding_classifier import EmbeddingClassifier
from serwidgets.evaluate import CalibrationDraw
from serwidgets.calibration import Calibration, CalibrationError, SpeakerHead

from tests.conftest import EMODB3_TASK

TRAIN_SPEAKERS = ["emodb:03", "emodb:08", "emodb:10"]
TEST_SPEAKER = "emodb:16"


def test_calibration_clips_are_never_scored():
    """The k-clip protocol: calibration clips of a test speaker are drawn, the rest scored."""
    table = pd.DataFrame({
        "speaker": ["a"] * 12 + ["b"] * 4 + ["c"] * 9,
        "emotion": (["angry", "sad", "neutral"] * 4) + ["sad"] * 4 + ["neutral", "angry", "sad"] * 3,
        "path": [f"x{i}.wav" for i in range(25)],
    })

    class Recorder:
        def calibrate(self, df, labels=None):
            self.calibration_paths = getattr(self, "calibration_paths", []) + list(df["path"])
            return Calibration.from_features(np.random.default_rng(len(df)).normal(size=(len(df), 1, 4)), None)

    recorder = Recorder()
    test = np.arange(25)
    scored, calibrations, info = evaluate.calibrate_test_speakers(recorder, table, test, CalibrationDraw(5), seed=0)
    calibrated_rows = set(table.index[table["path"].isin(recorder.calibration_paths)])
    assert len(calibrated_rows) == 10                           # 5 of "a", 5 of "c"
    assert not calibrated_rows & set(scored)
    assert set(scored) | calibrated_rows == set(range(25)) - set(range(12, 16))
    assert info == {"speakers": 2, "not_scored": ["b"], "clips": 10}   # "b" has only 4 clips
    a_emotions = table.loc[sorted(calibrated_rows & set(range(12))), "emotion"]
    assert a_emotions.nunique() == 3                            # round-robin: spread over the emotions
    assert set(calibrations) == {"a", "c"} and calibrations["a"].n_clips == 5
    # Neutral-only draws take neutral clips, and skip speakers without enough of them.
    scored, _, info = evaluate.calibrate_test_speakers(Recorder(), table, test, CalibrationDraw(3, "neutral"), seed=0)
    assert info["not_scored"] == ["b"] and info["clips"] == 6
    # A speaker whose calibration clips cannot calibrate (too few usable) is not scored either.

    class TooFew(Recorder):
        def calibrate(self, df, labels=None):
            raise CalibrationError("too few")

    scored, calibrations, info = evaluate.calibrate_test_speakers(TooFew(), table, test, CalibrationDraw(5), seed=0)
    assert scored.size == 0 and calibrations == {} and info["not_scored"] == ["a", "b", "c"]


# -- training and saved heads on real speech ---------------------------------------------------------

@pytest.fixture(scope="module")
def split(emodb3):
    return emodb3[emodb3["speaker"].isin(TRAIN_SPEAKERS)], emodb3[emodb3["speaker"] == TEST_SPEAKER]


@pytest.fixture(scope="module")
def fitted(split):
    return EmbeddingClassifier(EMODB3_TASK).fit(split[0])


def test_head_learns_emotions_of_an_unseen_speaker(fitted, split):
    test = split[1]
    truth = test["emotion"].map({e: i for i, e in enumerate(EMODB3_TASK)}).to_numpy()
    predicted = fitted.predict_proba(test).argmax(1)
    ua = evaluate.scores(truth, predicted, EMODB3_TASK)["UA"]
    assert ua > 0.7, ua  # chance is 0.33
    assert fitted.classes_ == EMODB3_TASK and fitted.layers_ == embedding_classifier.DEFAULT_LAYERS
    cal = fitted.calibrate(test)
    assert cal.n_clips == len(test)
    calibrated = fitted.predict_proba(test, calibrations={TEST_SPEAKER: cal})
    assert not np.allclose(calibrated, fitted.predict_proba(test))   # the speaker head was used


def test_clone_is_unfitted_and_refits_to_the_same_numbers(fitted, split):
    """scikit-learn conventions: parameters as given, clone unfitted, a second fit the same heads."""
    from sklearn.base import clone

    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and copy.labels is not None
    assert not [name for name in vars(copy) if name.endswith("_")]
    with pytest.raises(RuntimeError, match="fit the classifier"):
        copy.predict_features(np.zeros((1, 4, 1024)))
    X_train, X_test = fitted.embeddings(split[0]), fitted.embeddings(split[1])
    copy.fit_features(X_train, split[0])  # a real fit: fit() would take the memoised one
    assert copy.classes_ == fitted.classes_ == EMODB3_TASK
    np.testing.assert_array_equal(copy.predict_features(X_test), fitted.predict_features(X_test))
    cal = Calibration.from_features(X_test, seconds=None)
    np.testing.assert_array_equal(copy.predict_features(X_test, cal), fitted.predict_features(X_test, cal))


def test_parameters_are_stored_as_given_and_checked_in_fit(split):
    labels = list(EMODB3_TASK)
    clf = EmbeddingClassifier(labels, normalization="per-corpus")  # no error: __init__ only stores
    assert clf.labels is labels and clf.get_params()["normalization"] == "per-corpus"
    with pytest.raises(ValueError, match="normalization must be one of"):
        clf.fit_features(np.zeros((len(split[0]), 4, 1024)), split[0])


def test_layers_and_C_chosen_by_cv_inside_the_training_side(split):
    clf = EmbeddingClassifier(EMODB3_TASK, layers="auto", C="auto").fit(split[0])
    assert clf.layers_ in embedding_classifier.AUTO_LAYERS and clf.C_ in embedding_classifier.AUTO_C
    assert len(clf.cv_scores_) == len(embedding_classifier.AUTO_LAYERS) * len(embedding_classifier.AUTO_C)
    assert clf.cv_scores_[f"{list(clf.layers_)} C={clf.C_:g}"] == max(clf.cv_scores_.values())
    assert clf.chosen_ == {"layers": list(clf.layers_), "C": clf.C_}


def test_prediction_from_a_saved_head_imports_no_scikit_learn(emodb_root):
    """The shipped encoder-head model predicts without scikit-learn (and the pandas it imports)."""
    import subprocess
    import sys

    code = ("import sys, serwidgets\n"
            "model = serwidgets.load_model('ser-emotion6')\n"
            f"probabilities = model.predict_file({str(emodb_root / 'wav' / '03a01Wa.wav')!r})\n"
            "print(sorted(m for m in ('sklearn', 'pandas') if m in sys.modules), len(probabilities))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "[] 6"


def test_head_on_another_encoder_is_refused(fitted, tmp_path):
    from serwidgets.encoders import EncoderMismatchError
    from serwidgets.model import load_model

    directory = fitted.save(tmp_path / "b", task="emodb3")
    card = json.loads((directory / "card.json").read_text())
    card["encoder"]["sha256"] = "0" * 64
    (directory / "card.json").write_text(json.dumps(card))
    with pytest.raises(EncoderMismatchError):
        load_model(directory)


def test_predictions_agree_between_litert_and_numpy_encoders(fitted, split):
    """The head's probabilities on a real clip, from the LiteRT encoder and the numpy reference."""
    from serwidgets import audio
    from serwidgets.encoders import Encoder, pool_stats, whisper
    from serwidgets.features import whisper_log_mel

    y = audio.load(split[1]["path"].iloc[2])
    encoder = Encoder.load()
    litert = pool_stats(encoder.states(y))[None]
    reference = pool_stats(whisper.numpy_encoder(whisper_log_mel(y), encoder.n_states - 1))[None]
    np.testing.assert_allclose(fitted.predict_features(litert), fitted.predict_features(reference), atol=2e-3)


def test_far_out_input_is_atypical(fitted, split):
    X = fitted.embeddings(split[1].iloc[:3])
    assert not fitted.atypical(X).any()
    assert fitted.atypical(X * 0 + 50.0).all()


def test_class_offsets_are_saved_with_the_speaker_head(fitted, split, tmp_path):
    """Where each class sits among the speaker-standardised training clips: saved, loaded, said in the card."""
    from serwidgets.card import BundleError, EncoderHeadCard
    from serwidgets.heads import load_head, state_columns

    X = fitted.embeddings(split[0]).reshape(len(split[0]), -1)
    speakers, y = split[0]["speaker"].to_numpy(), fitted._targets(split[0])
    by_speaker = np.empty_like(X)
    for s in np.unique(speakers):
        rows = speakers == s
        by_speaker[rows] = (X[rows] - X[rows].mean(0)) / np.maximum(X[rows].std(0), fitted.std_floor_)
    U, w = by_speaker[:, state_columns(4, fitted.layers_)], fitted._weights(split[0])
    expected = np.stack([np.average(U[y == c], axis=0, weights=w[y == c]) for c in range(len(EMODB3_TASK))])
    # The pooled states are float32: the fit's own order of summation moves the last bits (1.5e-5 at most
    # here); a wrong weighting or standardisation moves these standardised means by far more than 1e-4.
    np.testing.assert_allclose(fitted.class_offsets_, expected, rtol=0, atol=1e-4)
    head = fitted.calibration_head
    assert isinstance(head, SpeakerHead) and head is fitted.calibration_head  # made once
    assert head.labels == EMODB3_TASK and head.class_offsets is fitted.class_offsets_

    directory = fitted.save(tmp_path / "b", task="emodb3")
    card = EncoderHeadCard.read(directory)
    assert "speaker_class_offsets" in card.head["heads"]
    loaded = load_head(directory, card.labels, card.head)
    np.testing.assert_array_equal(loaded.class_offsets_, fitted.class_offsets_)
    test = fitted.embeddings(split[1])
    cal = fitted.calibrate(split[1].iloc[:9], labels=list(split[1]["emotion"].iloc[:9]))
    np.testing.assert_allclose(loaded.predict_features(test, cal), fitted.predict_features(test, cal), atol=1e-12)
    # A speaker head without its offsets is refused (trained before labelled calibration).
    arrays = dict(np.load(directory / "head.npz"))
    del arrays["speaker_class_offsets"]
    np.savez(directory / "head.npz", **arrays)
    with pytest.raises(BundleError, match="without its class offsets"):
        load_head(directory, card.labels, card.head)


def test_calibrate_takes_one_label_per_row(fitted, split):
    test = split[1].iloc[:8]
    labels = list(test["emotion"].iloc[:6]) + [None, None]
    cal = fitted.calibrate(test, labels=labels)
    assert cal.n_clips == 8 and cal.labels == labels[:6]
    with pytest.raises(ValueError, match="8 clips but 2 labels"):
        fitted.calibrate(test, labels=["sad", "angry"])
    with pytest.raises(ValueError, match=r"labels \['happy'\] are not among"):
        fitted.calibrate(test, labels=["happy"] * 8)
