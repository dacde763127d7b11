"""Jupyter widgets for speech emotion recognition.

* :class:`Recorder` — record from the browser's microphone (mono PCM at
  :data:`serwidgets.audio.TARGET_SR` to the kernel)
* :class:`Uploader` — upload an audio file, with size and duration limits
* :class:`EmotionPanel` — top emotion, probabilities, waveform, spectrogram, timeline, playback
* :class:`Calibrator` — "Calibrate to my voice": prompts read with different feelings
  (encoder models only), with a :class:`Scorecard` ("on your 10 takes: 8 of 10 recognised")
* :class:`Corrector` — "that's wrong — it was …" under a calibrated result
* :class:`Teacher` — "Teach it your own feelings": name 2–8 classes, record or upload a few takes
  of each, train, see the leave-one-take-out figure and confusion matrix, try it, save it
* :class:`EmotionDashboard` — all of them around one model; also served by Voilà
  (``ser dashboard``, with a "Teach it" tab: ``tabs={"Teach it": Teacher}``)

Recorder, Uploader, Calibrator and Teacher share their limits (``max_seconds``, ``min_seconds``,
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
from .corrector import Corrector
from .dashboard import EmotionDashboard
from .panel import EmotionPanel
from .recorder import Recorder
from .scorecard import Scorecard
from .teacher import Teacher
from .uploader import Uploader
from .webrtc import recorder_audio

__all__ = ["Calibrator", "Corrector", "EmotionDashboard", "EmotionPanel", "Recorder", "Scorecard", "Teacher",
           "Uploader", "recorder_audio"]
