"""Training a network from scratch: :class:`NetClassifier` and its :class:`Recipe`.

:class:`NetClassifier` keeps the contract of every classifier (:mod:`serwidgets.classifier`):
``fit(df)``, ``predict_proba(df)``, ``save(directory, task=...)``. It trains a network of
:mod:`serwidgets.nets` on log-mels or waveforms (:func:`serwidgets.inputs.load_inputs`; rows with
an ``snr_db`` column get noise) with a CPU-friendly Keras recipe; :func:`fit_split` is how the
protocols fit any classifier on a split, the leakage guard first.

Examples
--------
>>> from serwidgets import corpora, labels, train
>>> df = labels.select_task(corpora.load_corpus("emodb"), "emodb7")    # doctest: +SKIP
>>> clf = train.NetClassifier(labels.TASKS["emodb7"], train.Recipe(val_speakers=2)).fit(df)  # doctest: +SKIP
>>> clf.validation_speakers_, clf.chosen_["best_epoch"]                # doctest: +SKIP
(['emodb:08', 'emodb:14'], 9)
>>> clf.save("models/cnn-emodb7", task="emodb7")                       # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .audio import AudioOptions
from .augment import Augmenter
from .classifier import Classifier
from .features import FeatureConfig
from .inputs import load_inputs, with_noisy_copies

__all__ = ["Recipe", "NetClassifier", "fit_split", "pin_threads"]

#: TensorFlow's intra- and inter-op threads while training. A fixed count, not one per CPU:
#: the thread count changes a CNN's floating-point sums, so a result is reproducible only
#: for a given count (the fingerprint in each results file records it; see
#: :mod:`serwidgets.fingerprint`). 2 is what this project's results were trained with, and
#: what a loaded model uses.
TRAIN_THREADS = 2


def pin_threads(n: int = TRAIN_THREADS) -> None:
    """Set TensorFlow's intra- and inter-op thread pools to ``n`` threads.

    Possible only before TensorFlow runs its first operation; afterwards the pools are fixed
    for the process and this does nothing (the results file's fingerprint then records the
    counts actually used).
    """
    import tensorflow as tf

    for setter in (tf.config.threading.set_intra_op_parallelism_threads,
                   tf.config.threading.set_inter_op_parallelism_threads):
        try:
            setter(n)
        except RuntimeError:
            pass  # TensorFlow already running: its thread pools are fixed for this process


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of :class:`NetClassifier`, stored in the model card.

    The defaults were chosen on this project's 2-core CPU budget (see
    ``benchmarks/bench_train.py``): the Zhao et al. (2019) 2-D CNN-LSTM at a quarter of the
    paper's width (16, 16, 32, 32 filters; measured here: 61 training clips per CPU-second,
    against 25 at half and 12 at full width), on 3-s crops of 64-band log-mels, trained for a
    fixed 30 epochs on every training speaker. Early stopping on two held-out validation
    speakers (``val_speakers=2, epochs=25, patience=5``, the first recipe) stopped after 6 to
    11 epochs on a noisy validation loss: EmoDB 7-class LOSO UA 0.466, against 0.479 with
    ``patience=10`` and 0.564 with this recipe (``results/``; three recipes compared on that
    protocol itself, so the chosen one is slightly flattered).

    Parameters
    ----------
    net : str
        A key of :data:`serwidgets.nets.NETS`.
    net_kwargs : dict
        Passed to the builder (``filters``, ``lstm_units``, ``pooling``, ...).
    epochs : int
        Epochs to train; with validation speakers, an upper bound (early stopping).
    patience : int
        With validation speakers: epochs without validation-loss improvement before stopping
        (best weights restored).
    batch_size : int
    learning_rate : float
        Adam learning rate.
    class_weights : bool
        Weight the loss by inverse class frequency (corpora are imbalanced).
    noisy_copies : int
        Extra noisy copies of each *training* clip (SNR drawn from ``copy_snr_db``).
    copy_snr_db : (float, float)
    val_speakers : int
        Speakers :meth:`NetClassifier.fit` holds out of its table for early stopping
        (gender-balanced, chosen with ``seed``); 0 trains on all of them for ``epochs`` epochs.
    spec_prob, n_freq_masks, max_freq, n_time_masks, max_time
        SpecAugment on each training batch (see :class:`serwidgets.augment.Augmenter`).
    seed : int

    Examples
    --------
    >>> Recipe(epochs=2).to_dict()["epochs"]
    2
    """

    net: str = "zhao2019_2d"
    net_kwargs: dict = field(default_factory=lambda: {"filters": [16, 16, 32, 32], "lstm_units": 128})
    epochs: int = 30
    patience: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    class_weights: bool = True
    noisy_copies: int = 0
    copy_snr_db: tuple = (5.0, 20.0)
    val_speakers: int = 0
    spec_prob: float = 0.8
    n_freq_masks: int = 2
    max_freq: int = 8
    n_time_masks: int = 2
    max_time: int = 20
    seed: int = 0

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: tuple(v) if k == "copy_snr_db" else v for k, v in d.items()})

    def augmenter(self) -> Augmenter:
        """The SpecAugment part of the recipe as an :class:`~serwidgets.augment.Augmenter`."""
        return Augmenter(
            noise_prob=0.0, shift_prob=0.0, spec_prob=self.spec_prob,
            n_freq_masks=self.n_freq_masks, max_freq=self.max_freq,
            n_time_masks=self.n_time_masks, max_time=self.max_time,
        )


class NetClassifier(Classifier):
    """A :mod:`serwidgets.nets` network trained with :class:`Recipe` (see :mod:`serwidgets.classifier`).

    Training draws a random crop of ``feature_config.duration`` seconds from every clip each
    epoch, applies SpecAugment to the batch and weights classes by inverse frequency. With
    ``recipe.val_speakers``, :meth:`fit` holds that many of its speakers out
    (:func:`serwidgets.splits.validation_split`, the leakage guard checks it) and stops early on
    their loss, restoring the best weights. Prediction averages the probabilities of windows
    hopping one second over the clip, as a loaded model does. The network is built inside
    ``strategy.scope()`` (default: the current ``tf.distribute`` strategy), so a multi-GPU
    strategy needs no code change.

    Parameters
    ----------
    labels : sequence of str
        Output order.
    recipe : Recipe, optional
        Default: ``Recipe()``.
    feature_config : FeatureConfig, optional
    audio_options : AudioOptions, optional
    cache_dir : str or path, optional
    verbose : int
        Keras progress (0 silent, 1 bar, 2 one line per epoch).
    strategy : tf.distribute.Strategy, optional

    Attributes
    ----------
    classes_ : tuple of str
    network_ : keras.Model
        The trained network.
    history_ : dict
        Keras history (per epoch).
    validation_speakers_ : list of str
        The speakers :meth:`fit` held out for early stopping.
    chosen_ : dict
        ``n_val`` (validation rows), ``epochs_run`` and ``best_epoch`` (None without validation).
    training_ : dict
        The card's ``training`` entry (:class:`~serwidgets.classifier.Classifier`).

    Examples
    --------
    >>> clf = NetClassifier(("angry", "sad"), Recipe(epochs=2))
    >>> clf.get_params()["recipe"].epochs, clf.input_shape
    (2, (64, 188))
    >>> NetClassifier.from_recipe(("angry", "sad"), clf.to_recipe()).get_params()["recipe"] == Recipe(epochs=2)
    True
    >>> clf.fit(train_df).predict_proba(test_df)                      # doctest: +SKIP
    """

    name = "cnn"

    def __init__(self, labels, recipe=None, feature_config=None, audio_options=None,
                 cache_dir=None, verbose=2, strategy=None):
        self.labels = labels
        self.recipe = recipe
        self.feature_config = feature_config
        self.audio_options = audio_options
        self.cache_dir = cache_dir
        self.verbose = verbose
        self.strategy = strategy

    def to_recipe(self) -> dict:
        return self._recipe.to_dict()

    @classmethod
    def from_recipe(cls, labels, recipe: dict, **options) -> NetClassifier:
        return cls(labels, Recipe.from_dict(recipe), **options)

    # -- parameters with their defaults filled in --------------------------------------------
    @property
    def _recipe(self) -> Recipe:
        return self.recipe or Recipe()

    @property
    def _feature_config(self) -> FeatureConfig:
        return self.feature_config or FeatureConfig()

    @property
    def _audio_options(self) -> AudioOptions:
        return self.audio_options or AudioOptions()

    @property
    def kind(self) -> str:
        """``"waveform"`` for the 1-D network, else ``"log_mel"``."""
        return "waveform" if self._recipe.net == "zhao2019_1d" else "log_mel"

    @property
    def input_shape(self) -> tuple:
        cfg = self._feature_config
        return (cfg.n_samples,) if self.kind == "waveform" else (cfg.n_mels, cfg.n_frames)


    def _inputs(self, df):
        return load_inputs(df, self.kind, self._feature_config, self._audio_options, self.cache_dir)

    def _usable(self, df):
        """``df`` without the rows whose file cannot be used, and those rows' inputs."""
        inputs = self._inputs(df)
        keep = [i for i, x in enumerate(inputs) if x is not None]
        return df.iloc[keep], [inputs[i] for i in keep]

    def skipped_files(self, df) -> dict:
        """Path -> :class:`~serwidgets.audio.AudioError` of each file of ``df`` that cannot be used."""
        return dict(self._inputs(df).skipped)

    def _crop(self, x, mode, rng=None):
        from .features import fix_frames, fix_samples

        fix = fix_frames if self.kind == "log_mel" else fix_samples
        return fix(x, self.input_shape[-1], mode, rng)

    def _training_data(self, inputs, targets):
        """A tf.data pipeline over in-memory clips: shuffle, random crops, SpecAugment."""
        import tensorflow as tf

        rng = np.random.default_rng(self._recipe.seed)
        augmenter = self._recipe.augmenter()

        def make_batch(idx):
            batch = np.stack([self._crop(inputs[i], "random", rng) for i in idx])
            if self.kind == "log_mel":
                batch = augmenter.spectrogram(batch, rng)
            return batch.astype(np.float32), targets[idx]

        def numpy_batch(idx):
            x, y = tf.numpy_function(make_batch, [idx], (tf.float32, tf.int64))
            x.set_shape((None, *self.input_shape))
            y.set_shape((None,))
            return x, y

        n = len(inputs)
        return (
            tf.data.Dataset.range(n)
            .shuffle(n, seed=self._recipe.seed, reshuffle_each_iteration=True)
            .batch(self._recipe.batch_size)
            .map(numpy_batch)  # sequential: the numpy RNG keeps runs reproducible
            .prefetch(2)
        )

    def _validation(self, val_df):
        """Keras validation data and early stopping on ``val_df`` (None, [] without one)."""
        import keras

        if not len(val_df):
            return None, []
        val_df, val_inputs = self._usable(val_df)
        x_val = np.stack([self._crop(x, "center") for x in val_inputs])
        stop = keras.callbacks.EarlyStopping("val_loss", patience=self._recipe.patience, restore_best_weights=True)
        return (x_val, self._targets(val_df)), [stop]

    def fit(self, df):
        """Train on ``df``, less the ``recipe.val_speakers`` speakers held out for early stopping.

        Returns
        -------
        NetClassifier
            ``self``.

        Raises
        ------
        serwidgets.splits.LeakageError
            The validation speakers share a recording with the training rows.
        """
        import keras
        import tensorflow as tf

        from . import nets, splits

        recipe = self._recipe
        pin_threads()
        keras.utils.set_random_seed(recipe.seed)
        split = splits.validation_split(df, recipe.val_speakers, recipe.seed)
        splits.check_leakage(df, split)
        self.validation_speakers_ = sorted(map(str, df.iloc[split.val]["speaker"].unique())) if split.val.size else []
        train_df = with_noisy_copies(df.iloc[split.train], recipe.noisy_copies, recipe.copy_snr_db, recipe.seed)
        train_df, inputs = self._usable(train_df)  # unusable files are skipped (and counted)
        targets = self._targets(train_df)
        data = self._training_data(inputs, targets)
        validation, callbacks = self._validation(df.iloc[split.val])
        class_weight = None
        if recipe.class_weights:
            counts = np.bincount(targets, minlength=len(self.labels))
            class_weight = {k: len(targets) / (len(counts) * c) for k, c in enumerate(counts) if c}

        strategy = self.strategy or tf.distribute.get_strategy()
        with strategy.scope():
            self.network_ = nets.build(recipe.net, self.input_shape, len(self.labels), **recipe.net_kwargs)
            self.network_.compile(
                optimizer=keras.optimizers.Adam(recipe.learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        history = self.network_.fit(
            data, epochs=recipe.epochs, validation_data=validation, class_weight=class_weight,
            callbacks=callbacks, verbose=self.verbose, shuffle=False,  # the dataset shuffles
        ).history
        self.history_ = {k: [float(v) for v in values] for k, values in history.items()}
        best = int(np.argmin(history["val_loss"])) + 1 if "val_loss" in history else None
        self._fitted(df, n_val=int(split.val.size), epochs_run=len(history["loss"]), best_epoch=best)
        return self

    def _save(self, directory, **card_fields) -> None:
        """Keras, LiteRT and the card (:func:`serwidgets.export.save_network`)."""
        from . import export
        from .card import NetworkCard

        card = NetworkCard(feature_config=self._feature_config, audio_options=self._audio_options,
                           input_kind=self.kind, input_shape=list(self.input_shape),
                           net={"name": self._recipe.net, "kwargs": dict(self._recipe.net_kwargs)}, **card_fields)
        export.save_network(self.network_, directory, card)

    def predict_proba(self, df):
        """Probabilities ``(len(df), len(labels))``: the mean over windows (``WINDOW_HOP_SECONDS`` apart) per clip.

        A clip whose file cannot be used gets uniform probabilities (and is counted on stderr).
        """
        from .features import WINDOW_HOP_SECONDS, windows

        self._check_fitted("predicting")
        cfg = self._feature_config
        steps_per_second = cfg.sample_rate if self.kind == "waveform" else cfg.sample_rate / cfg.hop_length
        hop = max(int(round(WINDOW_HOP_SECONDS * steps_per_second)), 1)
        inputs = self._inputs(df)
        usable = np.array([x is not None for x in inputs], bool)
        if not usable.any():
            return self._uniform_where(usable, np.zeros((0, len(self.classes_))))
        batches = [windows(x, self.input_shape[-1], hop, kind=self.kind)[0] for x in inputs if x is not None]
        probabilities = self.network_.predict(np.concatenate(batches), batch_size=64, verbose=0)
        ends = np.cumsum([len(b) for b in batches])
        return self._uniform_where(usable, np.stack([p.mean(axis=0) for p in np.split(probabilities, ends[:-1])]))


def fit_split(classifier, df, split, speaker_independent=True):
    """Check ``split`` for leakage, then fit ``classifier`` on its training rows.

    The one way the protocols train: nothing is fitted on a split that shares speakers (when
    ``speaker_independent``) or source recordings between its sides. Validation speakers are
    the classifier's own business (see :class:`NetClassifier`): a split with validation rows is
    refused.

    Returns
    -------
    classifier
        Fitted.

    Raises
    ------
    serwidgets.splits.LeakageError
    ValueError
        The split has validation rows.

    Examples
    --------
    >>> clf = fit_split(NetClassifier(labels), df, next(splits.loso(df)))     # doctest: +SKIP
    """
    from .splits import check_leakage

    if split.val.size:
        raise ValueError(f"split {split.name!r} has validation rows: a classifier holds out its own "
                         "(e.g. Recipe(val_speakers=2))")
    check_leakage(df, split, speaker_independent=speaker_independent)
    return classifier.fit(df.iloc[split.train])
