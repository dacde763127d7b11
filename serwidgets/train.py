"""Training: one interface for every model, a CPU-friendly Keras recipe, and bundle output.

Every model is a *classifier* with the same two methods, so protocols
(:mod:`serwidgets.evaluate`) never care which model they run:

``fit(train_df, val_df=None) -> self``
    Train on the rows of a corpus table (``path``, ``emotion``, ...); ``val_df`` (speakers
    held out from the training side) drives early stopping where the model has any.
``predict_proba(df) -> ndarray (n, k)``
    Class probabilities in the order of ``labels``.

:class:`NetClassifier` trains a network of :mod:`serwidgets.nets`;
:class:`serwidgets.baseline.BaselineClassifier` is the fast statistics + scikit-learn anchor.

A table may carry an ``snr_db`` column: those rows are loaded, given noise at that SNR
(``noise`` column: kind, default white) and featurised on the fly, with a seed derived from
the file and the SNR. That one mechanism serves the noisy *training copies*, the test-time SNR
sweep and the ``leaky`` protocol. Clean rows come from :mod:`serwidgets.cache`.

Examples
--------
>>> from serwidgets import corpora, labels, train
>>> df = labels.select_task(corpora.load_corpus("emodb"), "emodb7")    # doctest: +SKIP
>>> clf = train.NetClassifier(labels.TASKS["emodb7"]).fit(df_train, df_val)  # doctest: +SKIP
>>> clf.predict_proba(df_test).shape                                   # doctest: +SKIP
(49, 7)
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import AudioOptions
from .augment import Augmenter
from .features import FeatureConfig

__all__ = [
    "Recipe",
    "NetClassifier",
    "load_inputs",
    "with_noisy_copies",
    "fit_split",
    "train_bundle",
]

#: Test-time / copy noise when a row names none.
DEFAULT_NOISE = "white"

#: TensorFlow's intra- and inter-op threads while training. A fixed count, not one per CPU:
#: the thread count changes a CNN's floating-point sums, so a result is reproducible only
#: for a given count (the fingerprint in each results file records it; see
#: :mod:`serwidgets.fingerprint`). 2 is what this project's results were trained with, and
#: what the predictor uses.
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
        Training speakers held out for early stopping by the protocols and ``train_bundle``;
        0 trains on all of them for ``epochs`` epochs.
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


def _row_rng(path: str, snr_db: float, copy: int = 0) -> np.random.Generator:
    # A stable seed per (file, SNR, copy): noisy inputs are the same in every run and process.
    return np.random.default_rng(zlib.crc32(f"{path}|{snr_db:g}|{copy}".encode()))


def load_inputs(df, kind="log_mel", feature_config=None, audio_options=None, cache_dir=None, report=True):
    """Model inputs of every row: log-mels ``(n_mels, frames)`` or waveforms ``(samples,)``.

    Clean log-mels come from the feature cache. Rows with a finite ``snr_db`` get noise of
    kind ``noise`` (default white) added to the prepared waveform before featurising.

    Parameters
    ----------
    df : pandas.DataFrame
        Corpus table; optional columns ``snr_db``, ``noise``, ``copy``.
    kind : {"log_mel", "waveform"}
    feature_config : FeatureConfig, optional
    audio_options : AudioOptions, optional
    cache_dir : str or path, optional
        Feature cache folder (default: :func:`serwidgets.cache.default_cache_dir`).
    report : bool
        Print the number of skipped files per cause to stderr (if any).

    Returns
    -------
    serwidgets.cache.Features
        A list with one float32 array per row, variable length, and ``None`` for each row
        whose file cannot be used (an :class:`~serwidgets.audio.AudioError`): such files
        are skipped, counted per cause on stderr and listed in ``.skipped`` (path -> error).

    Examples
    --------
    >>> specs = load_inputs(df.assign(snr_db=10.0))                 # doctest: +SKIP
    """
    from . import audio, augment, cache, features

    feature_config = feature_config or FeatureConfig()
    audio_options = audio_options or AudioOptions()
    snr = df["snr_db"].to_numpy(float) if "snr_db" in df else np.full(len(df), np.nan)
    noisy = np.isfinite(snr)
    out = cache.Features([None] * len(df))
    clean = np.flatnonzero(~noisy)
    paths = df["path"].astype(str).to_numpy()
    if kind == "log_mel" and clean.size:
        specs = cache.cached_features(paths[clean], feature_config, audio_options, cache_dir, progress=False,
                                      report=report)
        out.skipped.update(specs.skipped)
        for i, spec in zip(clean, specs):
            out[i] = spec
    noise = df["noise"].fillna(DEFAULT_NOISE).to_numpy() if "noise" in df else np.full(len(df), DEFAULT_NOISE)
    copy = df["copy"].fillna(0).to_numpy(int) if "copy" in df else np.zeros(len(df), int)
    loaded = {}
    for i in range(len(df)):
        if out[i] is not None or paths[i] in out.skipped:
            continue
        try:
            y = audio.load(paths[i], audio_options)
        except audio.AudioError as error:  # one unusable file must not stop the run
            out.skipped[paths[i]] = loaded[paths[i]] = error
            continue
        if noisy[i]:
            y = augment.add_noise(y, snr[i], noise[i], rng=_row_rng(paths[i], snr[i], copy[i]))
        out[i] = features.log_mel(y, feature_config) if kind == "log_mel" else y
    if report:
        cache.report_skipped(loaded, len(df), "inputs")
    return out


def with_noisy_copies(df, n_copies, snr_db=(5.0, 20.0), seed=0, noise=DEFAULT_NOISE):
    """``df`` plus ``n_copies`` noisy copies of every row (``source`` = the original path).

    Only ever call this on a training side: a copy of a test clip in training is a leak,
    and :func:`serwidgets.splits.check_leakage` finds it through the ``source`` column.

    Examples
    --------
    >>> with_noisy_copies(train_df, 1)["snr_db"].notna().sum() == len(train_df)  # doctest: +SKIP
    True
    """
    if n_copies <= 0:
        return df
    rng = np.random.default_rng(seed)
    copies = [
        df.assign(
            source=df["path"], snr_db=rng.uniform(*snr_db, size=len(df)).round(1),
            noise=noise, copy=k + 1,
        )
        for k in range(n_copies)
    ]
    return pd.concat([df, *copies], ignore_index=True)


class NetClassifier:
    """A :mod:`serwidgets.nets` network trained with :class:`Recipe`.

    Training draws a random crop of ``feature_config.duration`` seconds from every clip each
    epoch, applies SpecAugment to the batch, weights classes by inverse frequency, and stops
    early on the validation speakers' loss (restoring the best weights). Prediction averages
    the probabilities of windows hopping one second over the clip, as the predictor does.
    The model is built inside ``strategy.scope()`` (default: the current
    ``tf.distribute`` strategy), so a multi-GPU strategy needs no code change.

    Parameters
    ----------
    labels : sequence of str
        Output order.
    recipe : Recipe
    feature_config : FeatureConfig
    audio_options : AudioOptions
    cache_dir : str or path, optional
    verbose : int
        Keras progress (0 silent, 1 bar, 2 one line per epoch).
    strategy : tf.distribute.Strategy, optional

    Attributes
    ----------
    model : keras.Model
    history : dict
        Keras history, plus ``best_epoch``.

    Examples
    --------
    >>> clf = NetClassifier(("angry", "sad"), Recipe(epochs=2))        # doctest: +SKIP
    >>> clf.fit(train_df, val_df).predict_proba(test_df)              # doctest: +SKIP
    """

    name = "cnn"

    def __init__(self, labels, recipe=None, feature_config=None, audio_options=None,
                 cache_dir=None, verbose=2, strategy=None):
        self.labels = tuple(labels)
        self.recipe = recipe or Recipe()
        self.feature_config = feature_config or FeatureConfig()
        self.audio_options = audio_options or AudioOptions()
        self.cache_dir = cache_dir
        self.verbose = verbose
        self.strategy = strategy
        self.kind = "waveform" if self.recipe.net == "zhao2019_1d" else "log_mel"
        self.model = None
        self.history = {}
        self.training = {"recipe": self.recipe.to_dict()}

    @property
    def input_shape(self) -> tuple:
        cfg = self.feature_config
        return (cfg.n_samples,) if self.kind == "waveform" else (cfg.n_mels, cfg.n_frames)

    @property
    def net(self) -> dict:
        """How to rebuild the network (for :func:`serwidgets.bundle.save_bundle`)."""
        return {"name": self.recipe.net, "kwargs": dict(self.recipe.net_kwargs),
                "input_shape": list(self.input_shape)}

    def _targets(self, df):
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = set(df["emotion"]) - set(index)
        if unknown:
            raise ValueError(f"emotions {sorted(unknown)} are not in the labels {self.labels}")
        return df["emotion"].map(index).to_numpy(np.int64)

    def _inputs(self, df):
        return load_inputs(df, self.kind, self.feature_config, self.audio_options, self.cache_dir)

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

        rng = np.random.default_rng(self.recipe.seed)
        augmenter = self.recipe.augmenter()

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
            .shuffle(n, seed=self.recipe.seed, reshuffle_each_iteration=True)
            .batch(self.recipe.batch_size)
            .map(numpy_batch)  # sequential: the numpy RNG keeps runs reproducible
            .prefetch(2)
        )

    def fit(self, train_df, val_df=None):
        """Train on ``train_df``; early stopping on ``val_df`` when given (else all epochs).

        Returns
        -------
        NetClassifier
            ``self``.
        """
        import keras
        import tensorflow as tf

        from . import nets

        recipe = self.recipe
        pin_threads()
        keras.utils.set_random_seed(recipe.seed)
        train_df = with_noisy_copies(train_df, recipe.noisy_copies, recipe.copy_snr_db, recipe.seed)
        train_df, inputs = self._usable(train_df)  # unusable files are skipped (and counted)
        targets = self._targets(train_df)
        data = self._training_data(inputs, targets)
        callbacks, validation = [], None
        if val_df is not None and len(val_df):
            val_df, val_inputs = self._usable(val_df)
            x_val = np.stack([self._crop(x, "center") for x in val_inputs])
            validation = (x_val, self._targets(val_df))
            callbacks.append(keras.callbacks.EarlyStopping(
                "val_loss", patience=recipe.patience, restore_best_weights=True))
        class_weight = None
        if recipe.class_weights:
            counts = np.bincount(targets, minlength=len(self.labels))
            class_weight = {k: len(targets) / (len(counts) * c) for k, c in enumerate(counts) if c}

        strategy = self.strategy or tf.distribute.get_strategy()
        with strategy.scope():
            self.model = nets.build(recipe.net, self.input_shape, len(self.labels), **recipe.net_kwargs)
            self.model.compile(
                optimizer=keras.optimizers.Adam(recipe.learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        history = self.model.fit(
            data, epochs=recipe.epochs, validation_data=validation, class_weight=class_weight,
            callbacks=callbacks, verbose=self.verbose, shuffle=False,  # the dataset shuffles
        ).history
        self.history = {k: [float(v) for v in values] for k, values in history.items()}
        if "val_loss" in history:
            self.history["best_epoch"] = int(np.argmin(history["val_loss"])) + 1
        return self

    def save(self, directory, *, task, metrics=None, name=None, description=""):
        """Write the trained model as a bundle (:func:`serwidgets.bundle.save_bundle`).

        The card's ``training`` entry is :attr:`training` (set by :func:`train_bundle`).

        Returns
        -------
        pathlib.Path
        """
        from . import bundle

        return bundle.save_bundle(
            self.model, directory, net=self.net, labels=self.labels, task=task,
            feature_config=self.feature_config, audio_options=self.audio_options,
            training=self.training,
            metrics=metrics or {}, name=name or Path(directory).name, description=description,
        )

    def predict_proba(self, df):
        """Probabilities ``(len(df), len(labels))``: the mean over 1-s-hop windows per clip.

        A clip whose file cannot be used gets uniform probabilities (and is counted on stderr).
        """
        if self.model is None:
            raise RuntimeError("fit the classifier before predicting")
        hop = self.feature_config.sample_rate if self.kind == "waveform" else round(
            self.feature_config.sample_rate / self.feature_config.hop_length)
        inputs = self._inputs(df)
        out = np.full((len(df), len(self.labels)), 1.0 / len(self.labels))
        usable = [i for i, x in enumerate(inputs) if x is not None]
        if not usable:
            return out
        from .features import windows

        batches = [windows(inputs[i], self.input_shape[-1], hop, kind=self.kind)[0] for i in usable]
        probabilities = self.model.predict(np.concatenate(batches), batch_size=64, verbose=0)
        ends = np.cumsum([len(b) for b in batches])
        out[usable] = np.stack([p.mean(axis=0) for p in np.split(probabilities, ends[:-1])])
        return out


def fit_split(classifier, df, split, speaker_independent=True):
    """Check ``split`` for leakage, then fit ``classifier`` on its train (and val) rows.

    The one way the protocols and :func:`train_bundle` train: nothing is fitted on a split
    that shares speakers (when ``speaker_independent``) or source recordings.

    Returns
    -------
    classifier
        Fitted.

    Raises
    ------
    serwidgets.splits.LeakageError

    Examples
    --------
    >>> clf = fit_split(NetClassifier(labels), df, split)           # doctest: +SKIP
    """
    from .splits import check_leakage

    check_leakage(df, split, speaker_independent=speaker_independent)
    val = df.iloc[split.val] if split.val.size else None
    return classifier.fit(df.iloc[split.train], val)


def train_bundle(df, task, directory, *, recipe=None, feature_config=None, audio_options=None,
                 metrics=None, name=None, description="", cache_dir=None, verbose=2):
    """Train a :class:`NetClassifier` on all of ``df`` and save it as a model bundle.

    ``recipe.val_speakers`` speakers (gender-balanced) are held out for early stopping;
    everything else is training data. The card can be rewritten later with better
    ``metrics`` (e.g. once a cross-validation finishes) by :meth:`NetClassifier.save`.

    Parameters
    ----------
    df : pandas.DataFrame
        Corpus table already restricted to ``task`` (:func:`serwidgets.labels.select_task`).
    task : str
        Task name (output labels = ``labels.TASKS[task]``).
    directory : str or path
        Bundle folder, e.g. ``models/zhao2019-emotion6``.
    metrics : dict, optional
        Cross-validated metrics of the same recipe for the card (``protocol`` inside).
    name, description : str

    Returns
    -------
    NetClassifier
        The trained classifier; ``classifier.training`` is the card's ``training`` entry.

    Examples
    --------
    >>> clf = train_bundle(df, "emotion6", "models/zhao2019-emotion6")       # doctest: +SKIP
    >>> clf.save("models/zhao2019-emotion6", task="emotion6", metrics=cv)    # doctest: +SKIP
    """
    from . import labels, splits

    recipe = recipe or Recipe()
    classifier = NetClassifier(labels.task_labels(task), recipe, feature_config, audio_options,
                               cache_dir, verbose)
    # Validation speakers: a random choice, alternating genders (rank within gender first).
    genders = df.groupby("speaker")["gender"].first().sample(frac=1, random_state=recipe.seed)
    rank = genders.groupby(genders.fillna("?")).cumcount().sort_values(kind="stable")
    is_val = df["speaker"].isin(rank.index[: recipe.val_speakers]).to_numpy()
    split = splits.Split("all", train=np.flatnonzero(~is_val), test=[], val=np.flatnonzero(is_val))
    fit_split(classifier, df, split)
    counts = df.groupby(["corpus", "emotion"]).size()
    classifier.training = {
        "corpora": sorted(df["corpus"].unique()),
        "counts": {f"{c}/{e}": int(n) for (c, e), n in counts.items()},
        "speakers": int(df["speaker"].nunique()),
        "val_speakers": sorted(df.iloc[split.val]["speaker"].unique()),
        "recipe": recipe.to_dict(),
        "epochs_run": len(classifier.history.get("loss", [])),
        "best_epoch": classifier.history.get("best_epoch"),
    }
    classifier.save(directory, task=task, metrics=metrics, name=name, description=description)
    return classifier
