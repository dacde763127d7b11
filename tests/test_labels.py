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
