import pandas as pd
import pytest

from serwidgets import labels


def table(emotions, corpus="x"):
    return pd.DataFrame({
        "corpus": corpus,
        "emotion": emotions,
        "native_label": emotions,
        "speaker": [f"{corpus}:{i % 2}" for i in range(len(emotions))],
    })


def test_every_mapping_targets_the_canonical_vocabulary():
    for corpus, mapping in labels.NATIVE_LABELS.items():
        assert set(mapping.values()) <= set(labels.EMOTIONS), corpus
    for task, emotions in labels.TASKS.items():
        assert set(emotions) <= set(labels.EMOTIONS), task
        assert len(set(emotions)) == len(emotions)


def test_emotion6_is_shared_by_all_acted_corpora():
    for corpus in ("emodb", "ravdess", "cremad", "tess", "savee", "iemocap"):
        assert set(labels.TASKS["emotion6"]) <= set(labels.NATIVE_LABELS[corpus].values()), corpus
    assert labels.TASKS["emodb7"] == tuple(sorted(set(labels.NATIVE_LABELS["emodb"].values())))
    assert labels.TASKS["ravdess8"] == tuple(sorted(set(labels.NATIVE_LABELS["ravdess"].values())))


def test_select_task_filters_and_reports_drops():
    df = table(["angry", "boredom", "calm", "sad", "boredom", "happy"])
    df.attrs["skipped"] = ["bad.wav"]
    out = labels.select_task(df, "emotion6")
    assert list(out["emotion"]) == ["angry", "sad", "happy"]
    assert list(out.index) == [0, 1, 2]
    assert out.attrs["dropped"] == {"boredom": 2, "calm": 1}
    assert out.attrs["task"] == "emotion6"
    assert out.attrs["labels"] == labels.TASKS["emotion6"]
    assert out.attrs["skipped"] == ["bad.wav"]
    assert len(df) == 6  # the input is not modified


def test_iemocap4_merges_excited_into_happy():
    df = table(["excited", "happy", "frustrated", "neutral", "angry", "sad"], "iemocap")
    out = labels.select_task(df, "iemocap4")
    assert list(out["emotion"]) == ["happy", "happy", "neutral", "angry", "sad"]
    assert list(out["native_label"]) == ["excited", "happy", "neutral", "angry", "sad"]
    assert out.attrs["dropped"] == {"frustrated": 1}
    six = labels.select_task(df, "iemocap6")
    assert len(six) == 6 and six.attrs["dropped"] == {}


def test_overrides_by_emotion_and_by_corpus_label():
    df = pd.concat([table(["calm", "neutral", "surprise"], "ravdess"), table(["surprise"], "savee")], ignore_index=True)
    df.loc[df["corpus"] == "ravdess", "native_label"] = ["02", "01", "08"]
    out = labels.select_task(df, "emotion6", mapping_overrides={"calm": "neutral"})
    assert list(out["emotion"]) == ["neutral", "neutral"]
    assert out.attrs["dropped"] == {"surprise": 2}
    out = labels.select_task(df, ("happy", "neutral"), mapping_overrides={("ravdess", "08"): "happy", "neutral": None})
    assert list(out["emotion"]) == ["happy"]
    assert out.attrs["task"] is None and out.attrs["labels"] == ("happy", "neutral")
    assert out.attrs["dropped"] == {"calm": 1, "neutral": 1, "surprise": 1}


def test_task_errors():
    with pytest.raises(ValueError, match="unknown task 'emotion5'"):
        labels.task_labels("emotion5")
    with pytest.raises(ValueError, match="distinct"):
        labels.task_labels(["sad", "sad"])


@pytest.mark.parametrize("name, expected", [
    ("Anger", "angry"), ("fearful", "fear"), ("Pleasant Surprise", "surprise"),
    ("happiness", "happy"), ("neutral", "neutral"), ("Contempt", "contempt"),
])
def test_canonical_emotion(name, expected):
    assert labels.canonical_emotion(name) == expected


# --- several corpora: coverage and balance --------------------------------------------------

def toy_corpora():
    """big: 6 sad, 2 angry; small: 1 sad, 1 angry, 2 fear."""
    return pd.DataFrame({
        "corpus": ["big"] * 8 + ["small"] * 4,
        "emotion": ["sad"] * 6 + ["angry"] * 2 + ["sad", "angry", "fear", "fear"],
    })


def test_new_corpora_label_maps():
    assert labels.NATIVE_LABELS["emovo"]["gio"] == "happy" and labels.NATIVE_LABELS["emovo"]["rab"] == "angry"
    assert labels.NATIVE_LABELS["nemo"]["happiness"] == "happy"
    assert labels.NATIVE_LABELS["nemo"]["surprised"] == "surprise"
    assert labels.NATIVE_LABELS["ased"]["f2"] == "fear"
    for spelling, canonical in [("joy", "happy"), ("happiness", "happy"), ("fearful", "fear"),
                                ("surprised", "surprise"), ("anger", "angry"), ("sadness", "sad")]:
        assert labels.canonical_emotion(spelling) == canonical


def test_corpus_classes_from_label_maps():
    assert all(classes == labels.TASKS["emotion4"] for classes in labels.corpus_classes("emotion4").values())
    six = labels.corpus_classes("emotion6")
    assert six["urdu"] == six["korean-emotiontts"] == ("angry", "happy", "neutral", "sad")
    assert six["ased"] == six["nemo"] == ("angry", "fear", "happy", "neutral", "sad")
    assert six["emovo"] == six["emodb"] == labels.TASKS["emotion6"]
    # task merges count: IEMOCAP's excited is happy in iemocap4
    assert labels.corpus_classes("iemocap4", ["iemocap", "emodb"]) == {
        "iemocap": ("angry", "happy", "neutral", "sad"), "emodb": ("angry", "happy", "neutral", "sad")}


def test_task_coverage_counts_and_zeros():
    cover = labels.task_coverage(toy_corpora(), ("angry", "fear", "sad"))
    assert cover.to_dict("index") == {
        "big": {"angry": 2, "fear": 0, "sad": 6, "total": 8},
        "small": {"angry": 1, "fear": 2, "sad": 1, "total": 4},
    }
    iemocap = pd.DataFrame({"corpus": ["iemocap"] * 2, "emotion": ["excited", "happy"]})
    merged = labels.task_coverage(iemocap, "iemocap4")
    assert merged.loc["iemocap", "happy"] == 2


def test_balance_weights_known_answers():
    df = toy_corpora()
    # emotion-corpus: each of 3 emotions 1/3; sad and angry split over 2 corpora, fear over 1.
    w = labels.balance_weights(df, normalize=False)
    expected = [1 / (3 * 2 * 6)] * 6 + [1 / (3 * 2 * 2)] * 2 + [1 / 6, 1 / 6, 1 / 6, 1 / 6]
    assert w == pytest.approx(expected)
    # cell: 5 (corpus, emotion) cells, 1/5 each
    assert labels.balance_weights(df, "cell", normalize=False) == pytest.approx(
        [1 / 30] * 6 + [1 / 10] * 2 + [1 / 5, 1 / 5, 1 / 10, 1 / 10])
    # corpus: 1/2 each, split over 2 classes (big) or 3 (small)
    assert labels.balance_weights(df, "corpus", normalize=False) == pytest.approx(
        [1 / 24] * 6 + [1 / 8] * 2 + [1 / 6, 1 / 6, 1 / 12, 1 / 12])
    # emotion: sklearn's "balanced" up to scale
    from sklearn.utils.class_weight import compute_sample_weight

    assert labels.balance_weights(df, "emotion") == pytest.approx(compute_sample_weight("balanced", df["emotion"]))


def test_balance_weights_totals_and_normalisation():
    df = toy_corpora().sample(frac=1, random_state=0)  # any row order and index
    w = labels.balance_weights(df)
    assert w.shape == (len(df),) and w.sum() == pytest.approx(len(df))
    totals = pd.Series(w, index=df.index).groupby([df["emotion"], df["corpus"]]).sum()
    by_emotion = totals.groupby(level=0).sum()
    assert by_emotion.to_numpy() == pytest.approx([len(df) / 3] * 3)  # classes balanced
    assert totals["sad"].to_numpy() == pytest.approx([len(df) / 6] * 2)  # corpora equal within a class
    cell = labels.balance_weights(df, "cell")
    assert pd.Series(cell, index=df.index).groupby([df["corpus"], df["emotion"]]).sum().nunique() == 1
    with pytest.raises(ValueError, match="unknown scheme"):
        labels.balance_weights(df, "speaker")
    assert labels.balance_weights(df.iloc[:0]).size == 0


def test_balance_weights_feed_sklearn():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    df = toy_corpora()
    X = np.arange(len(df), dtype=float)[:, None]
    LogisticRegression().fit(X, df["emotion"], sample_weight=labels.balance_weights(df))
