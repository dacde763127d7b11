"""Jupyter widgets for speech emotion recognition.

* :class:`Recorder` — record from the browser's microphone (mono PCM at
  :data:`serwidgets.audio.TARGET_SR` to the kernel)
* :class:`Uploader` — upload an audio file, with size and duration limits
* :class:`EmotionPanel` — top emotion, probabilities, waveform, spectrogram, timeline, playback
* :class:`Calibrator` — "Calibrate to my voice": prompts read with different feelings
  (encoder models only)
* :class:`EmotionDashboard` — all of them around one model; also served by Voilà
  (``ser dashboard``)

Recorder, Uploader and Calibrator share their limits (``max_seconds``, ``min_seconds``,
``max_bytes``: :class:`~serwidgets.widgets.limits.Limits`); their ``on_*`` methods register
callbacks with ipywidgets' ``CallbackDispatcher`` (``remove=True`` unregisters).

Examples
--------
>>> import serwidgets
>>> dashboard = serwidgets.EmotionDashboard()     # the shipped model, loaded and warmed up
>>> dashboard.panel.labels == list(dashboard.model.labels), dashboard.calibrator is not None
(True, True)
>>> dashboard                                     # doctest: +SKIP
"""

from .calibrator import Calibrator
from .dashboard import EmotionDashboard
from .panel import EmotionPanel
from .recorder import Recorder
from .uploader import Uploader
from .webrtc import recorder_audio

__all__ = ["Calibrator", "EmotionDashboard", "EmotionPanel", "Recorder", "Uploader", "recorder_audio"]
