"""Jupyter widgets for speech emotion recognition.

* :class:`Recorder` — record from the browser's microphone (16 kHz mono PCM to the kernel)
* :class:`Uploader` — upload an audio file, with size and duration limits
* :class:`EmotionPanel` — top emotion, probabilities, waveform, spectrogram, timeline, playback
* :class:`Calibrator` — "Calibrate to my voice": prompts read with different feelings
  (encoder models only)
* :class:`EmotionDashboard` — all of them around one predictor; also served by Voilà
  (``ser dashboard``)

Examples
--------
>>> import serwidgets
>>> serwidgets.EmotionDashboard()      # doctest: +SKIP
"""

from .calibrator import Calibrator
from .dashboard import EmotionDashboard
from .panel import EmotionPanel
from .recorder import Recorder
from .uploader import Uploader
from .webrtc import recorder_audio

__all__ = ["Calibrator", "EmotionDashboard", "EmotionPanel", "Recorder", "Uploader", "recorder_audio"]
