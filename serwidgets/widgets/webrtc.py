"""ipywebrtc interop: read what an ``ipywebrtc.AudioRecorder`` recorded.

Browsers record webm/opus there; :func:`serwidgets.audio.decode` reads it through PyAV.
tests/browser/test_webrtc.py records through ipywebrtc in JupyterLab 4 and Voilà.
"""

from __future__ import annotations

import numpy as np

from serwidgets.audio import AudioOptions


def recorder_audio(recorder, max_seconds: float | None = AudioOptions.max_seconds) -> tuple[np.ndarray, int]:
    """Decode the audio held by an ``ipywebrtc.AudioRecorder``.

    Parameters
    ----------
    recorder : ipywebrtc.AudioRecorder
        Anything with ``recorder.audio.value`` holding the recorded bytes.
    max_seconds : float or None
        Refuse a longer take with :class:`~serwidgets.audio.TooLongError`, from its header and
        again while decoding: the bytes come from the page, which anyone can send by hand, so
        a kernel decodes no more than this. Default ``AudioOptions.max_seconds``; None: no limit.

    Returns
    -------
    y : np.ndarray
        float32 samples, shape (frames, channels), at the recording's own sample rate.
    sr : int

    Raises
    ------
    serwidgets.audio.EmptyAudioError
        Nothing recorded yet.
    serwidgets.audio.AudioError
        The bytes are not audio, or are longer than ``max_seconds``.

    Examples
    --------
    >>> from ipywebrtc import AudioRecorder, CameraStream
    >>> mic = AudioRecorder(stream=CameraStream(constraints={"audio": True, "video": False}))
    >>> recorder_audio(mic)
    Traceback (most recent call last):
    ...
    serwidgets.audio.EmptyAudioError: the ipywebrtc recorder holds no audio yet

    Once the user has recorded:

    >>> y, sr = recorder_audio(mic, max_seconds=30)          # doctest: +SKIP
    """
    from serwidgets import audio

    data = bytes(recorder.audio.value or b"")
    if not data:
        raise audio.EmptyAudioError("the ipywebrtc recorder holds no audio yet")
    return audio.decode(data, max_seconds=max_seconds, name="the ipywebrtc recording")
