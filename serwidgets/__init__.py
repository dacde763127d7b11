"""serwidgets: a Jupyter-native workbench for speech emotion recognition.

Data flows one way::

    audio (decode/resample) -> features / encoder -> model (load_model) -> widgets

``import serwidgets`` is cheap: TensorFlow, librosa's numba paths, matplotlib and the widget
code are imported only when first used (see ``__getattr__``).

Examples
--------
>>> import serwidgets
>>> serwidgets.load_model.__module__         # imported on first use, not by ``import serwidgets``
'serwidgets.model'
>>> model = serwidgets.load_model()
>>> model.labels
('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad')
>>> model.predict_file("speech.wav")         # doctest: +SKIP
{'angry': 0.02, 'disgust': 0.01, ...}
>>> serwidgets.Calibration.__module__        # a speaker's calibration: saved as JSON, read back with .load
'serwidgets.calibration'
>>> serwidgets.teach.__module__              # your own classes from a few takes: a model load_model reads back
'serwidgets.personal'
"""

from __future__ import annotations

#: The one place the version is defined: pyproject.toml reads it (``dynamic = ["version"]``).
__version__ = "0.1.0"

__all__ = ["load_model", "Calibration", "teach", "teach_features", "EmotionDashboard", "Teacher", "Recorder",
           "Uploader", "EmotionPanel", "__version__"]

_LAZY = {
    "load_model": ("serwidgets.model", "load_model"),
    "Calibration": ("serwidgets.calibration", "Calibration"),
    "teach": ("serwidgets.personal", "teach"),
    "teach_features": ("serwidgets.personal", "teach_features"),
    "EmotionDashboard": ("serwidgets.widgets", "EmotionDashboard"),
    "Teacher": ("serwidgets.widgets", "Teacher"),
    "Recorder": ("serwidgets.widgets", "Recorder"),
    "Uploader": ("serwidgets.widgets", "Uploader"),
    "EmotionPanel": ("serwidgets.widgets", "EmotionPanel"),
}


def __getattr__(name: str):
    # Lazy attributes keep `import serwidgets` free of heavy imports.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'serwidgets' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
