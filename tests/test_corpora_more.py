"""The five further corpora (ASED, EMOVO, URDU, emotiontts Korean, nEMO): counts against their
READMEs, the language column, fault reporting, and which corpora cover which task classes.

The real corpora are read in place (names only, plus headers in the readability check); the
broken trees are written to a temporary folder, never into the repository.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from serwidgets import corpora, labels, splits
from serwidgets.cli import main
from serwidgets.corpora import CorpusWarning

NEW = ("ased", "emovo", "urdu", "korean-emotiontts", "nemo")
ALL = ("emodb", "ravdess") + NEW
LANGUAGE = {"emodb": "de", "ravdess": "en", "ased": "am", "emovo": "it", "urdu": "ur",
            "korean-emotiontts": "ko", "nemo": "pl"}


def readme_counts(readme: Path) -> tuple[int, int, dict[str, int], dict[str, int]]:
    """(clips, speakers, label -> clips, speaker id -> clips) as the shared README states them."""
    text = readme.read_text()
    clips, speakers = map(int, re.search(r"^(\d+) clips, (\d+) speakers", text, re.M).groups())
    section = text.split("## Counts per emotion")[1].split("\n## ")[0]
    per_label = {m[1]: int(m[2]) for m in re.finditer(r"^- (\w+): (\d+)$", section, re.M)}
    line = re.search(r"^## Speakers\n(\d+) \((.*)\)$", text, re.M)
    per_speaker = dict((s, int(n)) for s, n in (item.split() for item in line[2].split(", ")))
    assert int(line[1]) == len(per_speaker) == speakers
    return clips, speakers, per_label, per_speaker


def check_columns(df):
    assert list(df.columns[: len(corpora.COLUMNS)]) == list(corpora.COLUMNS)
    assert df["emotion"].isin(labels.EMOTIONS).all()
    assert df["gender"].isin(["m", "f", None]).all()
    assert (df["speaker"].str.split(":").str[0] == df["corpus"]).all()
    assert df["utterance"].notna().all()


@pytest.fixture(scope="module")
def tables(shared_data) -> dict[str, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)  # the real corpora load without a warning
        return {name: corpora.load_corpus(name, shared_data / name) for name in ALL}


# --- the real corpora ---------------------------------------------------------------------

@pytest.mark.parametrize("name", NEW)
def test_counts_match_readme(tables, shared_data, name):
    df = tables[name]
    check_columns(df)
    clips, speakers, per_label, per_speaker = readme_counts(shared_data / name / "README.md")
    assert len(df) == clips and df["speaker"].nunique() == speakers
    assert df.groupby("emotion").size().to_dict() == {labels.canonical_emotion(k): v for k, v in per_label.items()}
    assert df.groupby("speaker").size().to_dict() == {f"{name}:{s}": n for s, n in per_speaker.items()}
    assert set(df["language"]) == {LANGUAGE[name]}
    assert df.attrs["skipped"] == []
    assert set(df.attrs["faults"]) == set(corpora.FAULT_CAUSES)
    # every file the corpus's manifest lists is there
    assert df.attrs["faults"]["missing_file"] == []
    assert len(df) == len((shared_data / name / "MANIFEST.sha256").read_text().splitlines())


def test_real_corpora_faults(tables):
    """The only faults in the shared copies: five ASED files whose gender code contradicts
    their speaker's other files (kept, majority gender)."""
    found = {name: {c: n for c, n in df.attrs["faults"].items() if n} for name, df in tables.items()}
    assert found == {name: {} for name in ALL if name != "ased"} | {"ased": {"gender_conflict": [
        "02Fearful/f2-01-01-02-15.opus", "02Fearful/f2-02-01-02-25.opus", "02Fearful/f2-07-02-02-21.opus",
        "04Sad/s4-01-02-02-09.opus", "04Sad/s4-04-01-02-23.opus",
    ]}}
    ased = tables["ased"]
    assert ased.groupby("speaker")["gender"].nunique().max() == 1
    conflicted = ["ased:09", "ased:15", "ased:21", "ased:23", "ased:25"]
    assert ased.loc[ased["speaker"].isin(conflicted), "gender"].eq("f").all()
    assert ased.groupby("gender")["speaker"].nunique().to_dict() == {"f": 25, "m": 40}
    assert (ased["native_label"] == "S4").sum() == 1  # the README's one upper-case code, accepted


def test_new_corpora_details(tables):
    emovo = tables["emovo"]
    assert emovo.groupby("gender")["speaker"].nunique().to_dict() == {"f": 3, "m": 3}
    assert emovo["utterance"].nunique() == 14
    assert emovo.set_index("native_label")["emotion"].to_dict() == labels.NATIVE_LABELS["emovo"]
    urdu = tables["urdu"]
    assert urdu.groupby("gender")["speaker"].nunique().to_dict() == {"f": 11, "m": 18}
    assert urdu["utterance"].is_unique  # natural speech: every clip its own utterance
    korean = tables["korean-emotiontts"]
    assert korean["gender"].isna().all()
    assert korean.groupby("subset")["speaker"].nunique().to_dict() == {"emotional-to-emotional": 10,
                                                                        "plain-to-emotional": 5}
    # plain-to-emotional: the same five sentences in every emotion
    plain = korean[korean["subset"] == "plain-to-emotional"]
    assert plain.groupby("utterance")["emotion"].nunique().eq(4).all() and plain["utterance"].nunique() == 5
    nemo = tables["nemo"]
    assert nemo.groupby("gender")["speaker"].nunique().to_dict() == {"f": 4, "m": 5}
    assert nemo["age"].between(18, 99).all() and nemo["text"].notna().all()
    for df in tables.values():
        assert df["path"].map(lambda p: Path(p).is_absolute()).all()


def test_all_corpora_read_by_the_decoder(tables):
    from serwidgets import audio

    for name, df in tables.items():
        y = audio.load(df["path"].iloc[0])
        assert y.ndim == 1 and len(y) > audio.TARGET_SR // 4, name


def test_headers_readable(tables):
    for name in NEW:
        found = corpora.check_readable(tables[name], progress=False)
        assert {c: len(p) for c, p in found.items()} == dict.fromkeys(corpora.UNREADABLE_CAUSES, 0), name


def test_load_corpora_language_and_faults(shared_data):
    df = corpora.load_corpora(list(ALL), data_dir=shared_data)
    assert df.groupby("corpus")["language"].first().to_dict() == LANGUAGE
    assert len(df.attrs["faults"]["gender_conflict"]) == 5
    assert all(name.startswith("ased/") for name in df.attrs["faults"]["gender_conflict"])
    assert corpora.summary(df)["languages"] == {
        lang: int((df["language"] == lang).sum()) for lang in sorted(set(LANGUAGE.values()))}
    assert set(corpora.LANGUAGES) >= set(ALL) and all(len(code) == 2 for code in corpora.LANGUAGES.values())


def test_task_coverage_emotion6(shared_data):
    df = labels.select_task(corpora.load_corpora(list(ALL), data_dir=shared_data), "emotion6")
    cover = labels.task_coverage(df, "emotion6")
    assert list(cover.columns) == [*labels.TASKS["emotion6"], "total"]
    assert list(cover.index) == list(ALL)
    have = {c: tuple(e for e in labels.TASKS["emotion6"] if cover.loc[c, e] > 0) for c in ALL}
    assert have == labels.corpus_classes("emotion6", ALL)
    assert have["urdu"] == have["korean-emotiontts"] == ("angry", "happy", "neutral", "sad")
    assert have["ased"] == have["nemo"] == ("angry", "fear", "happy", "neutral", "sad")
    assert have["emovo"] == have["emodb"] == labels.TASKS["emotion6"]
    assert cover.loc["nemo", "happy"] == 390 and cover.loc["emovo", "total"] == 6 * 84
    assert cover["total"].sum() == len(df)
    # surprise (EMOVO, nEMO) is not in emotion6
    assert df.attrs["dropped"]["surprise"] == 84 + 356 + 192


def test_loco_on_the_real_corpora(shared_data):
    df = labels.select_task(corpora.load_corpora(list(ALL), data_dir=shared_data), "emotion6")
    folds = list(splits.loco(df))
    assert [f.name for f in folds] == [f"loco:{c}" for c in sorted(ALL)]
    tested = pd.concat([df.iloc[f.test] for f in folds])
    assert len(tested) == len(df) and tested["path"].is_unique  # each corpus tested exactly once
    for fold in folds:
        splits.check_leakage(df, fold)
        held_out = fold.name.split(":", 1)[1]
        assert set(df["corpus"].iloc[fold.test]) == {held_out}
        assert held_out not in set(df["corpus"].iloc[fold.train]) and fold.val.size == 0
        assert not set(df["speaker"].iloc[fold.test]) & set(df["speaker"].iloc[fold.train])


# --- fault reporting on broken copies -----------------------------------------------------

def copy_real(shared: Path, root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / name, root / name)


def write(root: Path, name: str, data: bytes = b"") -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)


@pytest.fixture
def broken_ased(shared_data, tmp_path) -> Path:
    """Three real ASED clips plus one broken file of each kind, and a manifest naming a lost file."""
    root = tmp_path / "ased"
    good = ["01Neutral/n1-01-01-01-01.opus", "03Happy/h3-01-01-02-08.opus", "05Angry/a5-01-01-01-01.opus"]
    copy_real(shared_data / "ased", root, good)
    write(root, "02Fearful/f2-01-01-02-07.opus")                      # empty_file (0 bytes)
    write(root, "03Happy/happy take 2.opus", b"OggS")                 # unparseable_name
    write(root, "06Surprise/u6-01-01-01-05.opus", b"OggS")            # unknown_label (folder and code)
    write(root, "04Sad/x4-01-01-01-05.opus", b"OggS")                 # unknown_label (code)
    write(root, "04Sad/h3-02-01-01-05.opus", b"OggS")                 # label_conflict: Sad folder, happy code
    write(root, "05Angry/a5-02-01-02-07.opus", b"this is not audio")  # parses; header check: not_audio
    write(root, "01Neutral/notes.txt", b"ignored: not an audio file name")
    manifest = [f"{'0' * 64}  {name}" for name in good + ["05Angry/a5-03-01-01-01.opus"]]
    write(root, "MANIFEST.sha256", ("\n".join(manifest) + "\n").encode())
    return root


def test_broken_ased_faults_by_cause(broken_ased):
    causes = r"unparseable_name 1, unknown_label 2, empty_file 1, missing_file 1, label_conflict 1"
    with pytest.warns(CorpusWarning, match=r"ased: skipped 5 file\(s\).*by cause: " + causes) as record:
        df = corpora.load_corpus("ased", broken_ased)
    assert len(record) == 1
    faults = df.attrs["faults"]
    assert faults["unparseable_name"] == ["03Happy/happy take 2.opus"]
    assert sorted(faults["unknown_label"]) == ["04Sad/x4-01-01-01-05.opus", "06Surprise/u6-01-01-01-05.opus"]
    assert faults["empty_file"] == ["02Fearful/f2-01-01-02-07.opus"]
    assert faults["missing_file"] == ["05Angry/a5-03-01-01-01.opus"]
    assert faults["label_conflict"] == ["04Sad/h3-02-01-01-05.opus"]
    assert faults["gender_conflict"] == []
    assert sorted(df.attrs["skipped"]) == sorted(
        faults["unparseable_name"] + faults["unknown_label"] + faults["empty_file"] + faults["label_conflict"])
    assert len(df) == 4 and "ased:07" in set(df["speaker"])
    # the header check finds the file that is not audio, by cause
    unreadable = corpora.check_readable(df, progress=False)
    assert {c: len(p) for c, p in unreadable.items() if p} == {"not_audio": 1}
    assert Path(unreadable["not_audio"][0]).name == "a5-02-01-02-07.opus"
    summary = corpora.summary(df)
    assert summary["faults"] == {"unparseable_name": 1, "unknown_label": 2, "empty_file": 1, "missing_file": 1,
                                 "label_conflict": 1, "gender_conflict": 0}


def test_check_readable_causes(tmp_path, shared_data):
    import numpy as np
    import soundfile as sf

    copy_real(shared_data / "emovo", tmp_path, ["f1/dis-f1-b1.opus"])
    write(tmp_path, "empty.wav")
    write(tmp_path, "text.opus", b"hello, not audio at all")
    write(tmp_path, "truncated.wav", b"RIFF\x24\x00\x00\x00WAVEfmt ")
    sf.write(tmp_path / "silent.wav", np.zeros((0, 1)), 16000)
    paths = ["f1/dis-f1-b1.opus", "empty.wav", "text.opus", "truncated.wav", "silent.wav", "gone.wav"]
    df = pd.DataFrame({"path": [str(tmp_path / p) for p in paths]})
    got = {c: [Path(p).name for p in v] for c, v in corpora.check_readable(df, progress=False).items() if v}
    assert got == {"missing_file": ["gone.wav"], "empty_file": ["empty.wav"], "not_audio": ["text.opus"],
                   "corrupt_header": ["truncated.wav"], "no_frames": ["silent.wav"]}


def test_broken_trees_of_the_other_loaders(tmp_path):
    ok = b"OggS fake"  # names are all the loaders read; content matters only to check_readable
    emovo = tmp_path / "emovo"
    for name, data in [("f1/gio-f1-b1.opus", ok), ("m2/xyz-m2-b1.opus", ok), ("m2/gio-m2.opus", ok),
                       ("m3/neu-m3-n5.opus", b"")]:
        write(emovo, name, data)
    with pytest.warns(CorpusWarning, match="unparseable_name 1, unknown_label 1, empty_file 1"):
        df = corpora.load_corpus("emovo", emovo)
    assert df[["speaker", "gender", "emotion", "native_label", "utterance", "language"]].values.tolist() == [
        ["emovo:f1", "f", "happy", "gio", "b1", "it"]]

    urdu = tmp_path / "urdu"
    for name in ["Angry/SM5_F3_A033.opus", "Happy/SF2_F1_A001.opus", "Sad/SM5_F9_X009.opus", "Sad/clip.opus"]:
        write(urdu, name, ok)
    with pytest.warns(CorpusWarning, match="unparseable_name 1, unknown_label 1, label_conflict 1"):
        df = corpora.load_corpus("urdu", urdu)
    assert df[["speaker", "gender", "emotion", "native_label", "language"]].values.tolist() == [
        ["urdu:SM5", "m", "angry", "A", "ur"]]

    korean = tmp_path / "korean-emotiontts"
    for name in ["plain-to-emotional/ema/wav/ema00101.opus", "plain-to-emotional/ema/wav/ema00401.opus",
                 "plain-to-emotional/ema/wav/emb00001.opus", "plain-to-emotional/ema/wav/ema00000.opus"]:
        write(korean, name, ok)
    write(korean, "plain-to-emotional/ema/script/ema00101.txt", "\ufeff안녕하세요.\n".encode())
    with pytest.warns(CorpusWarning, match="unparseable_name 1, unknown_label 2"):
        df = corpora.load_corpus("korean-emotiontts", korean)
    assert df[["speaker", "emotion", "native_label", "utterance", "subset", "number"]].values.tolist() == [
        ["korean-emotiontts:ema", "happy", "1", "안녕하세요.", "plain-to-emotional", 101]]

    nemo = tmp_path / "nemo"
    for name in ["samples/EB0_anger_1.opus", "samples/EB0_joy_2.opus", "samples/KS0_fear_3.opus",
                 "samples/KS0_neutral_4.opus", "samples/bad-name.opus"]:
        write(nemo, name, ok)
    tsv = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage",
           "EB0_anger_1.wav\tanger\tAla ma kota.\tala ma kota\t        EB0\tfemale\t27",
           "KS0_fear_3.wav\tsadness\tZły wiersz.\tzły wiersz\tKS0\tmale\t23",       # label_conflict
           "KS0_neutral_9.wav\tneutral\tBrak pliku.\tbrak pliku\tKS0\tmale\t23"]    # missing_file
    write(nemo, "data.tsv", ("\n".join(tsv) + "\n").encode())
    with pytest.warns(CorpusWarning, match="unparseable_name 1, unknown_label 1, missing_file 1, label_conflict 1"):
        df = corpora.load_corpus("nemo", nemo)
    assert df.attrs["faults"]["missing_file"] == ["samples/KS0_neutral_9.opus"]
    rows = df[["speaker", "gender", "emotion", "utterance", "age"]].astype(object).values.tolist()
    # KS0_neutral_4 is not in the TSV: kept, gender from the speaker's other rows, no age
    assert rows == [["nemo:EB0", "f", "angry", "ala ma kota", 27], ["nemo:KS0", "m", "neutral", "KS0_neutral_4", pd.NA]]


def test_cli_summary_prints_faults(capsys, broken_ased):
    assert main(["corpus", "summary", "ased", str(broken_ased)]) == 0
    out = capsys.readouterr().out
    assert "faults: unparseable_name 1, unknown_label 2, empty_file 1, missing_file 1, label_conflict 1" in out
    assert "  empty_file (1): 02Fearful/f2-01-01-02-07.opus" in out
    assert "unreadable (header check, not counted above): not_audio 1" in out
    assert "skipped: 5 file(s) left out" in out
    assert main(["corpus", "summary", "ased", str(broken_ased), "--json", "--no-header-check"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["faults"]["missing_file"] == 1 and "unreadable" not in info
    assert info["fault_files"]["label_conflict"] == ["04Sad/h3-02-01-01-05.opus"]


def test_cli_summary_real_ased(capsys, shared_data, monkeypatch):
    monkeypatch.setenv("SER_DATA", str(shared_data))
    assert main(["corpus", "summary", "ased"]) == 0  # `ser corpus summary ased`, root from $SER_DATA
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "ased: 2470 files, 65 speakers (f: 25 speakers, 925 files, m: 40 speakers, 1545 files)"
    assert "languages: am 2470" in lines
    assert "faults: gender_conflict 5" in lines
    assert "unreadable (header check, not counted above): none" in lines
    assert any(line.split() == ["fear", "510"] for line in lines)


def test_cli_summary_counts_only_readable_files(capsys, broken_ased):
    # The table holds 4 files; the header check finds one that is not audio: it is said apart,
    # not counted with the usable ones (nor in the emotions, speakers and genders).
    assert main(["corpus", "summary", "ased", str(broken_ased), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["files"] == 3 and info["unreadable"]["not_audio"] == 1
    assert sum(info["emotions"].values()) == sum(g["files"] for g in info["genders"].values()) == 3
    assert "angry" in info["emotions"] and info["emotions"]["angry"] == 1  # a5-01 is readable, a5-02 is not
    assert main(["corpus", "summary", "ased", str(broken_ased)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ased: 3 files")
    assert "unreadable (header check, not counted above): not_audio 1" in lines
    # Without the header check nothing is known to be unreadable: all 4 are counted.
    assert main(["corpus", "summary", "ased", str(broken_ased), "--json", "--no-header-check"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 4
