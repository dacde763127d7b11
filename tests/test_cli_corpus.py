import json

import pytest

from serwidgets import corpora, labels
from serwidgets.cli import main


def run(capsys, *argv):
    code = main(["corpus", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_json_matches_the_loader(capsys, emodb_root):
    code, out, _ = run(capsys, "summary", "emodb", str(emodb_root), "--json")
    assert code == 0
    info = json.loads(out)
    df = corpora.load_corpus("emodb", emodb_root)
    assert info["files"] == len(df) == 535 and info["skipped"] == 0 and info["skipped_files"] == []
    assert info["emotions"] == df.groupby("emotion").size().to_dict()
    assert {s: v["files"] for s, v in info["speakers"].items()} == df.groupby("speaker").size().to_dict()
    assert info["genders"] == {
        g: {"speakers": int(d["speaker"].nunique()), "files": len(d)} for g, d in df.groupby("gender")
    }


def test_summary_text_with_task(capsys, emodb_root):
    code, out, _ = run(capsys, "summary", "emodb", str(emodb_root), "--task", "emotion6")
    assert code == 0
    six = labels.select_task(corpora.load_corpus("emodb", emodb_root), "emotion6")
    assert out.splitlines()[0].startswith(f"emodb: {len(six)} files, 10 speakers")
    assert f"dropped: boredom {six.attrs['dropped']['boredom']}" in out
    assert "skipped: 0 file(s)" in out
    for emotion, n in six.groupby("emotion").size().items():
        assert any(line.split() == [emotion, str(n)] for line in out.splitlines())
    for speaker, group in six.groupby("speaker"):
        assert any(line.split() == [speaker, group["gender"].iloc[0], str(len(group))] for line in out.splitlines())
    assert "boredom" not in [line.split()[0] for line in out.splitlines() if line.split()]


def test_summary_reports_skipped_files(capsys, tmp_path):
    import fixtures_corpora as fx

    fx.make_tree(tmp_path, ["OAF_angry/OAF_back_angry.wav", "OAF_angry/OAF_back.wav"])
    code, out, _ = run(capsys, "summary", "tess", str(tmp_path), "--json")
    info = json.loads(out)
    assert code == 0 and info["files"] == 1 and info["skipped"] == 1
    assert info["skipped_files"] == ["OAF_angry/OAF_back.wav"]
    assert info["genders"] == {"f": {"speakers": 1, "files": 1}}


def test_missing_root_is_a_clear_error(capsys, tmp_path):
    code, out, err = run(capsys, "summary", "savee", str(tmp_path / "nowhere"))
    assert code == 2 and out == ""
    assert "corpus 'savee' not found" in err and "nowhere" in err


def test_list_names_every_corpus(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(corpora.CORPORA)


def test_unknown_task_is_rejected(capsys, emodb_root):
    with pytest.raises(SystemExit):
        main(["corpus", "summary", "emodb", str(emodb_root), "--task", "emotion5"])
    assert "invalid choice" in capsys.readouterr().err
