"""Splits and the leakage guard, on the real EmoDB and RAVDESS file lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serwidgets.classifier import Classifier
from serwidgets.corpora import load_corpus
from serwidgets.splits import (
    LeakageError,
    Split,
    check_leakage,
    loco,
    loso,
    random_split,
    speaker_kfold,
    validation_split,
)

@pytest.fixture(scope="module")
def emodb(emodb_root) -> pd.DataFrame:
    return load_corpus("emodb", emodb_root)


@pytest.fixture(scope="module")
def ravdess(ravdess_root) -> pd.DataFrame:
    # The corpus manifest gives each file's SHA-256, so identical files count as one source.
    df = load_corpus("ravdess", ravdess_root)
    lines = (ravdess_root / "MANIFEST.sha256").read_text().splitlines()
    sha = {name: digest for digest, name in (line.split() for line in lines)}
    names = [Path(p).relative_to(ravdess_root.resolve()).as_posix() for p in df["path"]]
    return df.assign(sha256=[sha[name] for name in names])


def speakers_of(df, idx) -> set:
    return set(df["speaker"].iloc[idx])


def test_loso_emodb_one_fold_per_speaker(emodb):
    folds = list(loso(emodb))
    assert len(folds) == emodb["speaker"].nunique() == 10
    tested = []
    for split in folds:
        check_leakage(emodb, split)
        (test_speaker,) = speakers_of(emodb, split.test)
        assert split.name == f"loso:{test_speaker}"
        assert test_speaker not in speakers_of(emodb, split.train)
        assert split.val.size == 0
        assert np.array_equal(np.sort(np.r_[split.train, split.test]), np.arange(len(emodb)))
        tested.append(split.test)
    # Every row is tested exactly once over the folds.
    assert np.array_equal(np.sort(np.concatenate(tested)), np.arange(len(emodb)))


def test_validation_speakers_are_a_gender_balanced_seeded_choice(emodb):
    training = emodb[emodb["speaker"] != "emodb:03"].reset_index(drop=True)
    split = validation_split(training, 2, seed=3)
    check_leakage(training, split)
    val, train = speakers_of(training, split.val), speakers_of(training, split.train)
    assert len(val) == 2 and len(train) == 7 and not val & train and split.test.size == 0
    assert set(training.set_index("speaker").loc[list(val), "gender"]) == {"m", "f"}  # one woman, one man
    assert split.train.size + split.val.size == len(training)
    choices = [tuple(sorted(speakers_of(training, validation_split(training, 2, seed).val))) for seed in range(6)]
    assert choices[1] == tuple(sorted(speakers_of(training, validation_split(training, 2, 1).val)))
    assert len(set(choices)) > 1                                          # the seed chooses
    assert validation_split(training, 0).val.size == 0
    with pytest.raises(ValueError, match="at least one"):
        validation_split(training, 9)


def test_speaker_kfold_ravdess_six_folds_of_four_actors(ravdess):
    folds = list(speaker_kfold(ravdess, 6))
    assert [s.name for s in folds] == [f"speaker-kfold:{k}/6" for k in range(1, 7)]
    tested = []
    for split in folds:
        check_leakage(ravdess, split)
        actors = speakers_of(ravdess, split.test)
        assert len(actors) == 4
        genders = ravdess.groupby("speaker")["gender"].first()[sorted(actors)]
        assert (genders == "f").sum() == 2  # gender-balanced folds
        tested.extend(actors)
    assert sorted(tested) == sorted(ravdess["speaker"].unique())  # each actor tested once


def test_speaker_kfold_is_deterministic_per_seed(ravdess):
    def assignment(seed):
        return [
            sorted(speakers_of(ravdess, s.test)) for s in speaker_kfold(ravdess, 6, seed=seed)
        ]

    assert assignment(0) == assignment(0)
    assert assignment(0) != assignment(1)


def test_speaker_kfold_rejects_more_folds_than_speakers(emodb):
    with pytest.raises(ValueError, match="between 2 and 10"):
        next(speaker_kfold(emodb, 11))


def test_random_split_stratified_by_emotion(emodb):
    split = random_split(emodb, test_size=0.2, seed=0)
    n = len(emodb)
    assert np.array_equal(np.sort(np.r_[split.train, split.test]), np.arange(n)) and split.val.size == 0
    assert abs(split.test.size - 0.2 * n) <= 1
    counts = emodb["emotion"].value_counts()
    test_counts = emodb["emotion"].iloc[split.test].value_counts()
    # Stratified: each emotion's share of the test set follows its share of the corpus.
    assert (abs(test_counts.reindex(counts.index, fill_value=0) - 0.2 * counts) < 2).all()
    check_leakage(emodb, split, speaker_independent=False)
    # The same speakers are on both sides, so the speaker-independent guard refuses it.
    with pytest.raises(LeakageError, match="speakers in both train and test"):
        check_leakage(emodb, split)


def test_random_split_is_deterministic_per_seed(emodb):
    a, b, c = (random_split(emodb, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.test, b.test) and np.array_equal(a.train, b.train)
    assert not np.array_equal(a.test, c.test)


def test_guard_catches_noisy_copies_split_at_random(emodb):
    # The seed app's protocol: add noisy copies of every file, then split at random.
    copies = emodb.assign(source=emodb["path"], path=emodb["path"] + "#noise=white,snr=10")
    augmented = pd.concat([emodb, copies], ignore_index=True)
    split = random_split(augmented, seed=0)
    with pytest.raises(LeakageError, match="source values in both train and test") as info:
        check_leakage(augmented, split, speaker_independent=False)
    # The message names an offending recording.
    leaked = set(augmented["path"].iloc[split.train]) & set(
        augmented["source"].fillna(augmented["path"]).iloc[split.test]
    )
    assert any(Path(p).name in str(info.value) for p in leaked)


def test_guard_catches_identical_files(ravdess):
    # Actor_07 has two byte-identical recordings; on opposite sides they are a leak.
    name = "Actor_07/03-01-03-01-02-0{}-07.flac"
    first, second = (
        int(np.flatnonzero(ravdess["path"].str.endswith(name.format(k)))[0]) for k in (1, 2)
    )
    assert ravdess["sha256"].iloc[first] == ravdess["sha256"].iloc[second]
    others = np.setdiff1d(np.arange(len(ravdess)), [first, second])
    split = Split("duplicate", train=np.r_[others, first], test=[second])
    with pytest.raises(LeakageError, match=ravdess["sha256"].iloc[first]):
        check_leakage(ravdess, split, speaker_independent=False)


def test_guard_names_a_test_speaker_moved_into_training(emodb):
    split = next(loso(emodb))
    moved = Split(split.name, train=np.r_[split.train, split.test[:1]], test=split.test[1:])
    speaker = emodb["speaker"].iloc[split.test[0]]
    with pytest.raises(LeakageError, match=f"speakers in both train and test: {speaker}"):
        check_leakage(emodb, moved)


def test_guard_rejects_shared_rows_and_bad_indices(emodb):
    with pytest.raises(LeakageError, match="rows in both train and val"):
        check_leakage(emodb, Split("x", train=[0, 1], test=[2], val=[1]), False)
    with pytest.raises(ValueError, match="outside"):
        check_leakage(emodb, Split("x", train=[0], test=[len(emodb)]))


# --- leave one corpus out -------------------------------------------------------------------

def three_corpora() -> pd.DataFrame:
    """a: 2 speakers, b: 3 speakers, c: 1 speaker; c has 'fear', which no other corpus has."""
    rows = []
    for corpus, speakers, language in (("a", 2, "de"), ("b", 3, "en"), ("c", 1, "en")):
        for s in range(speakers):
            for k, emotion in enumerate(["angry", "sad", "angry", "sad"] + (["fear", "fear"] if corpus == "c" else [])):
                rows.append({"path": f"/x/{corpus}/{s}_{k}.wav", "corpus": corpus, "speaker": f"{corpus}:{s}",
                             "gender": "mf"[s % 2], "emotion": emotion, "language": language})
    return pd.DataFrame(rows)


def test_loco_holds_out_each_corpus_once():
    df = three_corpora()
    folds = list(loco(df))
    assert [f.name for f in folds] == ["loco:a", "loco:b", "loco:c"]
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(len(df)))
    for fold in folds:
        check_leakage(df, fold)
        corpus = fold.name.split(":")[1]
        assert (df["corpus"].iloc[fold.test] == corpus).all()
        assert (df["corpus"].iloc[fold.train] != corpus).all() and fold.train.size == (df["corpus"] != corpus).sum()
        assert not speakers_of(df, fold.test) & speakers_of(df, fold.train)


def test_loco_needs_two_corpora_and_unique_speakers():
    df = three_corpora()
    with pytest.raises(ValueError, match="at least two corpora"):
        list(loco(df[df["corpus"] == "a"]))
    clash = df.assign(speaker=df["speaker"].str.split(":").str[1])  # "0" in every corpus
    with pytest.raises(ValueError, match="shares speaker ids"):
        list(loco(clash))
    with pytest.raises(ValueError, match="'corpus' column"):
        list(loco(df.drop(columns="corpus")))


class _PathRule(Classifier):
    """A fake classifier: predicts 'angry' for files ending in _0 or _2, else 'sad'; no training."""

    name = "rule"

    def __init__(self, labels=()):
        self.labels = labels

    def to_recipe(self):
        return {}

    def skipped_files(self, df):
        return {}

    def fit(self, df):
        self._fitted(df)
        return self

    def predict_proba(self, df):
        p = np.zeros((len(df), len(self.labels)))
        angry = df["path"].str.contains(r"_[02]\.wav$").to_numpy()
        p[angry, self.labels.index("angry")] = 1
        p[~angry, self.labels.index("sad")] = 1
        return p


def test_evaluate_loco_per_corpus_and_language(tmp_path):
    from serwidgets import evaluate, results
    from serwidgets.evaluate import Protocol

    df = three_corpora()
    task = ("angry", "fear", "sad")
    assert "loco" in evaluate.PROTOCOLS
    table, folds = Protocol("loco").splits(df)
    assert table is df and [f.name for f in folds] == ["loco:a", "loco:b", "loco:c"]

    rule = _PathRule(task)  # unfitted: evaluate clones it for every fold
    r = evaluate.evaluate(df, rule, Protocol("loco"), task=task, log=lambda *_: None)
    # a and b: angry and sad, all right; c: fear is never predicted -> recall 0 over 3 classes
    assert r.per_corpus == {"a": 1.0, "b": 1.0, "c": pytest.approx(2 / 3)}
    assert r.per_corpus_classes == {"a": ["angry", "sad"], "b": ["angry", "sad"], "c": ["angry", "fear", "sad"]}
    assert r.loco_mean_UA == pytest.approx((1 + 1 + 2 / 3) / 3)
    assert r.loco_unseen_classes == {"a": [], "b": [], "c": ["fear"]}
    assert r.per_language["de"] == {"UA": 1.0, "WA": 1.0, "n": 8, "corpora": ["a"]}
    assert r.per_language["en"]["corpora"] == ["b", "c"] and r.per_language["en"]["n"] == 18
    assert r.per_language["en"]["UA"] == pytest.approx(2 / 3)  # fear recall 0 pooled over b and c
    # The pooled predictions: every clip once, with its corpus and the fold that scored it.
    p = r.predictions
    assert sorted(p.clip) == sorted(f"{c}/{s}_{k}.wav" for c, s, k in
                                    df["path"].str.extract(r"/x/(\w)/(\d)_(\d)\.wav").itertuples(index=False))
    assert list(p.fold[p.corpus == "c"]) == [2] * 6 and p.correct[p.corpus == "a"].all()
    json_path, md_path = results.write_results(r, "toy-loco", tmp_path)
    md = md_path.read_text()
    assert "Mean UA over held-out corpora (leave one corpus out): **0.889**" in md
    assert "- c: angry, fear, sad" in md and "c: fear" in md
    assert "| en | b, c | 18 | 0.667 |" in md
    # other protocols: per-language and classes too, no loco keys
    r = evaluate.evaluate(df, rule, Protocol("loso"), task=task, log=lambda *_: None)
    assert r.loco_mean_UA is None and set(r.per_language) == {"de", "en"}
