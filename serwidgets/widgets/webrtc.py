"""ipywebrtc interop: read what an ``ipywebrtc.AudioRecorder`` recorded.

Browsers record webm/opus there; :func:`serwidgets.audio.decode` reads it through PyAV.
"""

from __future__ import annotations

import numpy as np


def recorder_audio(recorder) -> tuple[np.ndarray, int]:
    """Decode the audio held by an ``ipywebrtc.AudioRecorder``.

    Parameters
    ----------
    recorder : ipywebrtc.AudioRecorder
        Anything with ``recorder.audio.value`` holding the recorded bytes.

    Returns
    -------
    y : np.ndarray
        float32 samples, shape (frames, channels), at the recording's own sample rate.
    sr : int

    Raises
    ------
    serwidgets.audio.EmptyAudioError
        Nothing recorded yet.

    Examples
    --------
    >>> from ipywebrtc import AudioRecorder, CameraStream
    >>> mic = AudioRecorder(stream=CameraStream(constraints={"audio": True, "video": False}))
    >>> recorder_audio(mic)
    Traceback (most recent call last):
    ...
    serwidgets.audio.EmptyAudioError: the ipywebrtc recorder holds no audio yet

    Once the user has recorded:

    >>> y, sr = recorder_audio(mic)          # doctest: +SKIP
    """
    from serwidgets import audio

    data = bytes(recorder.audio.value or b"")
    if not data:
        raise audio.EmptyAudioError("the ipywebrtc recorder holds no audio yet")
    return audio.decode(data)
