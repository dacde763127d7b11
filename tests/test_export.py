"""Export: LiteRT with builtin ops only (LSTM unrolled), ONNX, and ``ser export``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from serwidgets import audio, bundle, export, features
from serwidgets.card import CARD, NetworkCard, file_sha256
from serwidgets.cli import main
from serwidgets.model import load_model
from tests.fixtures_bundle import tiny_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, emodb_root):
    return tiny_bundle(tmp_path_factory, emodb_root)


@pytest.fixture(scope="module")
def real_inputs(emodb_root):
    """Network inputs from real EmoDB clips, computed as a NetworkModel computes them."""
    config = features.FeatureConfig()
    paths = sorted((emodb_root / "wav").glob("08a0*.wav"))[:3]
    return np.stack([features.fix_frames(features.log_mel(audio.load(p), config), config.n_frames) for p in paths])


def litert_ops(path) -> set:
    from ai_edge_litert.interpreter import Interpreter

    return {op["op_name"] for op in Interpreter(model_path=str(path))._get_ops_details()}


def run_litert(path, inputs: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, inputs.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, inputs)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_bundle_litert_uses_builtin_ops_only(bundle_dir):
    ops = litert_ops(bundle_dir / bundle.LITERT)
    assert {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= ops
    assert not any(op.startswith("Flex") or op in {"CUSTOM", "DELEGATE"} for op in ops)
    assert "WHILE" not in ops  # the LSTM is unrolled, not a loop


def test_a_rolled_lstm_does_not_convert_to_builtins(bundle_dir, tmp_path):
    model = bundle.load_keras(bundle_dir)  # saved with unroll=False, as trained
    with pytest.raises(export.ExportError, match="LiteRT conversion failed"):
        export.to_litert(model, tmp_path / "rolled.tflite")


def test_cli_litert_export_updates_the_card(bundle_dir, tmp_path, capsys, real_inputs):
    copy = shutil.copytree(bundle_dir, tmp_path / "copy")
    (copy / bundle.LITERT).unlink()
    assert main(["export", "--format", "litert", str(copy)]) == 0
    assert f"wrote {copy / bundle.LITERT}" in capsys.readouterr().out
    card = NetworkCard.read(copy)  # verifies the new sha256
    assert card.files[bundle.LITERT] == file_sha256(copy / bundle.LITERT)
    # Only the file list changed: the rest of the card is as it was, key for key.
    before = NetworkCard.read(bundle_dir).to_dict()
    assert {k: v for k, v in card.to_dict().items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"}
    expected = bundle.load_keras(copy).predict_on_batch(real_inputs)
    assert run_litert(copy / bundle.LITERT, real_inputs) == pytest.approx(expected, abs=1e-4)
    assert load_model(copy).backend == "litert"


def test_onnx_export_agrees_with_keras(bundle_dir, tmp_path, real_inputs):
    onnxruntime = pytest.importorskip("onnxruntime", reason="needs the 'export' extra")
    card_before = (bundle_dir / CARD).read_text()
    path = export.export_bundle(bundle_dir, "onnx", output=tmp_path / "elsewhere.onnx")
    assert path == tmp_path / "elsewhere.onnx"
    assert (bundle_dir / CARD).read_text() == card_before  # only files inside go into the card
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: real_inputs})[0]
    expected = bundle.load_keras(bundle_dir).predict_on_batch(real_inputs)
    assert outputs == pytest.approx(expected, abs=1e-4)


def test_unknown_format_and_missing_bundle(tmp_path, capsys):
    with pytest.raises(ValueError, match="format must be one of"):
        export.export_bundle(tmp_path, "coreml")
    assert main(["export", str(tmp_path)]) == 2
    assert "no model bundle" in capsys.readouterr().err
