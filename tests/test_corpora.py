import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import fixtures_corpora as fx
from serwidgets import corpora, labels
from serwidgets.corpora import CorpusWarning


def readme_table(readme: Path, header: str) -> list[list[str]]:
    """Rows of the markdown table whose header row starts with ``header``."""
    lines = readme.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def check_columns(df):
    assert list(df.columns[: len(corpora.COLUMNS)]) == list(corpora.COLUMNS)
    assert df["path"].map(lambda p: Path(p).is_absolute() and Path(p).is_file()).all()
    assert df["emotion"].isin(labels.EMOTIONS).all()
    assert df["gender"].isin(["m", "f", None]).all()
    assert (df["speaker"].str.split(":").str[0] == df["corpus"]).all()


# --- real corpora -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def emodb(emodb_root):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)
        return corpora.load_corpus("emodb", emodb_root)


@pytest.fixture(scope="module")
def ravdess(ravdess_root):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)
        return corpora.load_corpus("ravdess", ravdess_root)


def test_emodb_matches_readme(emodb, emodb_root):
    readme = emodb_root / "README.md"
    check_columns(emodb)
    assert emodb.attrs["skipped"] == []
    per_emotion = {letter: int(files) for letter, _, files in readme_table(readme, "| letter |") if letter}
    assert sum(per_emotion.values()) == len(emodb) == 535
    assert emodb.groupby("native_label").size().to_dict() == per_emotion
    per_speaker = readme_table(readme, "| speaker | sex |")
    assert emodb.groupby("speaker").size().to_dict() == {f"emodb:{s}": int(n) for s, _, n in per_speaker}
    genders = emodb.groupby("speaker")["gender"].agg(set).to_dict()
    assert genders == {f"emodb:{s}": {sex} for s, sex, _ in per_speaker}
    # Letter -> name as the README spells it (anger/happiness/sadness are our angry/happy/sad).
    names = {letter: name for letter, name, _ in readme_table(readme, "| letter |") if letter}
    pairs = emodb.groupby("native_label")["emotion"].agg(set).to_dict()
    for letter, emotions in pairs.items():
        assert emotions == {labels.canonical_emotion(names[letter])}
    text_codes = readme.read_text().split("text (sentence) code")[1].splitlines()[0]
    assert set(emodb["utterance"]) == set(re.findall(r"[ab]\d\d", text_codes))


def test_emodb_emotion6(emodb):
    six = labels.select_task(emodb, "emotion6")
    assert six.attrs["dropped"] == {"boredom": (emodb["native_label"] == "L").sum()}
    assert len(six) == len(emodb) - six.attrs["dropped"]["boredom"]
    assert set(six["emotion"]) == set(labels.TASKS["emotion6"])
    assert set(labels.select_task(emodb, "emodb7")["emotion"]) == set(labels.TASKS["emodb7"])


def test_ravdess_matches_readme(ravdess):
    check_columns(ravdess)
    assert len(ravdess) == 1440 and ravdess.attrs["skipped"] == [] and ravdess.attrs["excluded_song"] == 0
    per_emotion = ravdess.groupby("emotion").size().to_dict()
    assert per_emotion == {e: 96 if e == "neutral" else 192 for e in labels.TASKS["ravdess8"]}
    assert set(ravdess.groupby("speaker").size()) == {60}
    assert ravdess["speaker"].nunique() == 24
    actor = ravdess["speaker"].str.split(":").str[1].astype(int)
    assert (ravdess["gender"] == actor.map(lambda a: "m" if a % 2 else "f")).all()
    assert ravdess.loc[ravdess["emotion"] == "neutral", "intensity"].eq("normal").all()
    assert ravdess.groupby("intensity").size().to_dict() == {"normal": 768, "strong": 672}
    assert set(ravdess["repetition"]) == {1, 2}
    assert set(ravdess["statement"]) == {"Kids are talking by the door", "Dogs are sitting by the door"}
    six = labels.select_task(ravdess, "emotion6")
    assert len(six) == 1440 - 2 * 192
    assert six.attrs["dropped"] == {"calm": 192, "surprise": 192}


def test_ravdess_song_is_optional(tmp_path):
    root = fx.make_tree(tmp_path / "ravdess", [
        "Actor_01/03-01-05-02-01-01-01.wav", "Actor_02/03-02-04-01-02-02-02.wav", "Actor_02/03-01-01-01-01-01-02.flac",
    ])
    speech = corpora.load_corpus("ravdess", root)
    assert len(speech) == 2 and speech.attrs["excluded_song"] == 1
    both = corpora.load_corpus("ravdess", root, include_song=True)
    assert sorted(both["vocal_channel"]) == ["song", "speech", "speech"]
    song = both[both["vocal_channel"] == "song"].iloc[0]
    assert (song["speaker"], song["gender"], song["emotion"], song["repetition"]) == ("ravdess:02", "f", "sad", 2)


def test_load_corpora_concatenates(shared_data):
    both = corpora.load_corpora(["emodb", {"name": "ravdess"}], data_dir=shared_data)
    assert len(both) == 535 + 1440
    assert both.attrs["corpora"] == ["emodb", "ravdess"]
    assert both.groupby("corpus")["speaker"].nunique().to_dict() == {"emodb": 10, "ravdess": 24}
    six = labels.select_task(both, "emotion6")
    assert six.groupby("corpus").size().to_dict() == {"emodb": 535 - 81, "ravdess": 1440 - 384}


def test_root_defaults_to_ser_data(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("SER_DATA", str(shared_data))
    assert len(corpora.load_corpus("emodb")) == 535
    monkeypatch.setenv("SER_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "emodb"))):
        corpora.load_corpus("emodb")
    monkeypatch.delenv("SER_DATA")
    with pytest.raises(FileNotFoundError, match="SER_DATA is not set"):
        corpora.load_corpus("emodb")
    with pytest.raises(ValueError, match="unknown corpus 'emodbx'"):
        corpora.load_corpus("emodbx", tmp_path)


def test_root_is_one_corpus_data_dir_holds_them_all(shared_data, monkeypatch, tmp_path):
    """``root`` = the corpus's own folder; ``data_dir`` = the folder of corpora, then $SER_DATA."""
    monkeypatch.setenv("SER_DATA", str(tmp_path))  # wrong on purpose: data_dir and root must win
    assert corpora.corpus_root("emodb", data_dir=shared_data) == shared_data / "emodb"
    assert corpora.corpus_root("emodb", shared_data / "emodb", data_dir=tmp_path) == shared_data / "emodb"
    assert len(corpora.load_corpus("emodb", data_dir=shared_data)) == 535
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "emodb"))):
        corpora.load_corpus("emodb")
    # A spec's own root wins over data_dir.
    own = corpora.load_corpora([{"name": "emodb", "root": shared_data / "emodb"}], tmp_path)
    assert len(own) == 535 and own.attrs["corpora"] == ["emodb"]
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "emodb"))):
        corpora.load_corpora(["emodb"], tmp_path)


def test_durations_read_headers(emodb):
    seconds = corpora.durations(emodb.head(20))
    assert list(seconds.index) == list(emodb.index[:20])
    assert ((seconds > 1.0) & (seconds < 9.0)).all()  # README: 1.23-8.98 s


# --- synthetic trees ----------------------------------------------------------------------

def load_warning(name, root, count, **options):
    label = options.get("corpus", name)
    with pytest.warns(CorpusWarning, match=rf"{label}: skipped {count} file") as record:
        df = corpora.load_corpus(name, root, **options)
    assert len(record) == 1
    return df


def test_emodb_malformed_names_are_reported(tmp_path):
    root = fx.make_tree(tmp_path, ["wav/03a01Wa.wav", "wav/16b10Tc.wav", *fx.EMODB_MALFORMED])
    (root / "wav" / "README.txt").write_text("not audio: ignored, not reported")
    df = load_warning("emodb", root, 2)
    assert sorted(df.attrs["skipped"]) == sorted(str(Path(n)) for n in fx.EMODB_MALFORMED)
    assert list(df["speaker"]) == ["emodb:03", "emodb:16"]
    assert list(df["emotion"]) == ["angry", "sad"]


def test_cremad(tmp_path):
    root = fx.make_tree(tmp_path, fx.CREMAD + fx.CREMAD_MALFORMED)
    (root / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n"
    )
    df = load_warning("cremad", root, 2)
    check_columns(df)
    assert sorted(df.attrs["skipped"]) == sorted(str(Path(n)) for n in fx.CREMAD_MALFORMED)
    rows = df.set_index("native_label")
    angry = rows.loc["ANG", ["speaker", "gender", "emotion", "utterance", "intensity"]].tolist()
    assert angry == ["cremad:1001", "m", "angry", "DFA", "unspecified"]
    assert rows.loc["SAD", "gender"] == "f"
    assert rows.loc["NEU", "gender"] is None  # 1091 is not in the demographics file
    assert rows.loc["HAP", "intensity"] == "high"


def test_tess(tmp_path):
    root = fx.make_tree(tmp_path, fx.TESS + fx.TESS_MALFORMED)
    df = load_warning("tess", root, 1)
    check_columns(df)
    assert df.attrs["skipped"] == [str(Path(fx.TESS_MALFORMED[0]))]
    mapping = df.set_index("native_label")["emotion"].to_dict()
    assert mapping == {"angry": "angry", "fear": "fear", "ps": "surprise", "neutral": "neutral"}
    assert set(df["speaker"]) == {"tess:OAF", "tess:YAF"} and set(df["gender"]) == {"f"}
    assert sorted(df["utterance"]) == ["back", "back", "bar", "germ"]


def test_savee_flat_and_nested(tmp_path):
    root = fx.make_tree(tmp_path, fx.SAVEE + fx.SAVEE_MALFORMED)
    df = load_warning("savee", root, 1)
    check_columns(df)
    got = df[["speaker", "emotion", "utterance"]].apply(tuple, axis=1).tolist()
    assert sorted(got) == sorted([
        ("savee:DC", "angry", "a01"), ("savee:JE", "sad", "sa03"),
        ("savee:KL", "surprise", "su15"), ("savee:JK", "neutral", "n30"),
    ])
    assert set(df["gender"]) == {"m"}


def test_iemocap(tmp_path):
    root = fx.make_iemocap(tmp_path / "IEMOCAP_full_release")
    df = load_warning("iemocap", root, 1)
    check_columns(df)
    assert df.attrs["skipped"] == [str(Path("Session2/sentences/wav/Ses02M_script01_1/Ses02M_script01_1_F001.wav"))]
    assert df.attrs["excluded_other"] == 2
    by_id = df.set_index("utterance")
    male = by_id.loc["Ses01F_impro01_M000", ["speaker", "gender", "emotion", "session"]].tolist()
    assert male == ["iemocap:Ses01M", "m", "angry", 1]
    assert by_id.loc["Ses01F_impro01_F001", "emotion"] == "excited"
    scripted = by_id.loc["Ses02M_script01_1_F000", ["speaker", "dialog", "improvised"]].tolist()
    assert scripted == ["iemocap:Ses02F", "Ses02M_script01_1", False]
    timing = by_id.loc["Ses01F_impro01_F000", ["start", "end", "valence", "activation", "dominance"]].tolist()
    assert timing == [0.5, 2.25, 2.5, 3.0, 3.5]
    four = labels.select_task(df, "iemocap4")["emotion"].value_counts().to_dict()
    assert four == {"happy": 2, "neutral": 1, "angry": 1, "sad": 1}

    with pytest.warns(CorpusWarning):
        everything = corpora.load_corpus("iemocap", root, include_other=True)
    assert set(everything["emotion"]) >= {"other", "no_agreement"} and len(everything) == len(df) + 2


def test_iemocap_malformed_label_line(tmp_path):
    root = fx.make_iemocap(tmp_path)
    label_file = root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    label_file.write_text(label_file.read_text() + "[1.0 - 2.0]\tSes01F_impro01\tneu\t[1, 2]\n")
    df = load_warning("iemocap", root, 2)
    assert any("Ses01F_impro01.txt: [1.0 - 2.0]" in s for s in df.attrs["skipped"])


def test_folder_corpus(tmp_path):
    names = ["Anger/anna_01.wav", "sad/bob_02.flac", "happy/x/anna_03.wav", "loose.wav", "sad/nospeaker.wav"]
    root = fx.make_tree(tmp_path, names)
    df = load_warning("folder", root, 2, speaker_pattern=r"^(?P<speaker>[a-z]+)_\d+$", corpus="mine")
    check_columns(df)
    assert sorted(df.attrs["skipped"]) == ["loose.wav", str(Path("sad/nospeaker.wav"))]
    pairs = sorted(zip(df["speaker"], df["emotion"]))
    assert pairs == [("mine:anna", "angry"), ("mine:anna", "happy"), ("mine:bob", "sad")]
    plain = load_warning("folder", root, 1)
    assert set(plain["speaker"]) == {"folder:unknown"} and len(plain) == 4


def test_csv_corpus(tmp_path):
    fx.make_tree(tmp_path, ["audio/a.wav", "audio/b.wav"])
    pd.DataFrame({
        "path": ["audio/a.wav", str(tmp_path / "audio/b.wav"), "audio/missing.wav"],
        "emotion": ["Anger", "neutral", "sad"],
        "speaker": ["s1", "s2", "s1"],
        "gender": ["female", "M", "f"],
        "session": ["1", "2", "1"],
    }).to_csv(tmp_path / "labels.csv", index=False)
    df = load_warning("csv", tmp_path / "labels.csv", 1)
    check_columns(df)
    assert df.attrs["skipped"] == ["audio/missing.wav"]
    assert df[["speaker", "gender", "emotion", "native_label", "session"]].values.tolist() == [
        ["csv:s1", "f", "angry", "Anger", "1"], ["csv:s2", "m", "neutral", "neutral", "2"],
    ]
    with pytest.warns(CorpusWarning, match="listed audio files that do not exist"):
        assert len(corpora.load_corpus("csv", tmp_path, corpus="csv")) == 2  # a folder with one CSV
    (tmp_path / "bad.csv").write_text("file,label\n")
    with pytest.raises(FileNotFoundError, match="expected one CSV"):
        corpora.load_corpus("csv", tmp_path)
    with pytest.raises(ValueError, match="missing column"):
        corpora.load_corpus("csv", tmp_path / "bad.csv")


def test_empty_root_warns(tmp_path):
    with pytest.warns(CorpusWarning, match="no recordings found"):
        assert corpora.load_corpus("tess", tmp_path).empty
