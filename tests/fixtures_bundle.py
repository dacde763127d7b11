"""A tiny model trained in seconds on real EmoDB clips, saved as a bundle (shared by tests).

It is far too small and too briefly trained to recognise emotions; it exists so that the
bundle, model, export and CLI tests run the real path -- real audio, the card's features,
a real zhao2019_2d graph (with fewer filters), LiteRT conversion -- on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Not alphabetical on purpose: outputs must follow the card's order.
LABELS = ("sad", "angry", "neutral", "happy")
NET = {"name": "zhao2019_2d", "kwargs": {"filters": [8, 8, 8, 8], "lstm_units": 16, "dropout": 0.0}}
PER_EMOTION = 4

_BUNDLES: dict = {}


def tiny_bundle(tmp_path_factory, emodb_root: Path) -> Path:
    """Train (once per session) and save the tiny bundle; returns its folder."""
    if emodb_root not in _BUNDLES:
        _BUNDLES[emodb_root] = _train_and_save(tmp_path_factory.mktemp("bundle") / "tiny-emodb4", emodb_root)
    return _BUNDLES[emodb_root]


def _train_and_save(directory: Path, emodb_root: Path) -> Path:
    import keras

    from serwidgets import audio, corpora, export, features, nets
    from serwidgets.card import NetworkCard

    keras.utils.set_random_seed(0)
    config, options = features.FeatureConfig(), audio.AudioOptions()
    table = corpora.load_corpus("emodb", emodb_root)
    table = table[table["emotion"].isin(LABELS)].groupby("emotion").head(PER_EMOTION)
    x = np.stack([features.fix_frames(features.log_mel(audio.load(path, options), config), config.n_frames)
                  for path in table["path"]])
    y = np.array([LABELS.index(emotion) for emotion in table["emotion"]])
    input_shape = (config.n_mels, config.n_frames)
    model = nets.build(NET["name"], input_shape, len(LABELS), **NET["kwargs"])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    card = NetworkCard(
        name="tiny-emodb4", description="test fixture: not a usable emotion model", task="tiny4", labels=LABELS,
        audio_options=options, feature_config=config, input_kind="log_mel", input_shape=list(input_shape), net=NET,
        training={"corpora": ["emodb"], "counts": table["emotion"].value_counts().to_dict(), "epochs": 2},
        metrics={"protocol": "none (test fixture)"})
    return export.save_network(model, directory, card)
