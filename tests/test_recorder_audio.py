"""serwidgets.widgets.recorder_audio: what an ipywebrtc AudioRecorder holds, within a length limit.

The browser side (ipywebrtc recording the fake microphone in JupyterLab and Voilà) is
tests/browser/test_webrtc.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from serwidgets import audio
from serwidgets.widgets import recorder_audio
from tests.test_widgets import UTTERANCE, webm_opus


@pytest.fixture(scope="module")
def take(emodb_root) -> bytes:
    """Three EmoDB sentences in a row, about 10 s, as a browser's MediaRecorder encodes them."""
    y, sr = soundfile.read(emodb_root / "wav" / UTTERANCE, dtype="float32")
    return webm_opus(np.tile(y, 3), sr)


def recorder_holding(data: bytes):
    from ipywebrtc import AudioRecorder

    recorder = AudioRecorder()
    recorder.audio.value = data
    return recorder


def test_a_take_within_the_limit_is_decoded(take):
    y, sr = recorder_audio(recorder_holding(take), max_seconds=30)
    assert sr == 48000 and 9 < len(y) / sr < 12


def test_a_take_past_the_limit_is_refused_and_named(take):
    with pytest.raises(audio.TooLongError, match="the ipywebrtc recording"):
        recorder_audio(recorder_holding(take), max_seconds=5)


def test_bytes_that_are_not_audio_are_an_audio_error():
    with pytest.raises(audio.AudioError, match="the ipywebrtc recording"):
        recorder_audio(recorder_holding(b"these are meeting notes, not audio\n" * 50))
