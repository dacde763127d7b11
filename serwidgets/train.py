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

Inputs (clean or, for rows with an ``snr_db`` column, with noise added) come from
:func:`serwidgets.inputs.load_inputs`.

Examples
--------
>>> from serwidgets import corpora, labels, train
>>> df = labels.select_task(corpora.load_corpus("emodb"), "emodb7")    # doctest: +SKIP
>>> clf = train.NetClassifier(labels.TASKS["emodb7"]).fit(df_train, df_val)  # doctest: +SKIP
>>> clf.predict_proba(df_test).shape                                   # doctest: +SKIP
(49, 7)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from .audio import AudioOptions
from .deprecation import renamed_attribute
from .augment import Augmenter
from .features import FeatureConfig

# Input loading moved to serwidgets.inputs; importable from here for one more release.
from .inputs import DEFAULT_NOISE, load_inputs, with_noisy_copies  # noqa: F401, E402
from .inputs import row_rng as _row_rng  # noqa: F401, E402

__all__ = ["Recipe", "NetClassifier", "fit_split", "train_bundle", "pin_threads"]

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


class NetClassifier(BaseEstimator):
    """A :mod:`serwidgets.nets` network trained with :class:`Recipe`.

    Training draws a random crop of ``feature_config.duration`` seconds from every clip each
    epoch, applies SpecAugment to the batch, weights classes by inverse frequency, and stops
    early on the validation speakers' loss (restoring the best weights). Prediction averages
    the probabilities of windows hopping one second over the clip, as the predictor does.
    The network is built inside ``strategy.scope()`` (default: the current
    ``tf.distribute`` strategy), so a multi-GPU strategy needs no code change.
    A scikit-learn estimator: the parameters are stored as given, what fitting learns ends
    in ``_``, and :func:`sklearn.base.clone` makes an unfitted copy.

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
        The labels, in output order.
    network_ : keras.Model
        The trained network.
    history_ : dict
        Keras history, plus ``best_epoch`` (with validation speakers).
    training_ : dict
        The card's ``training`` entry: the recipe (and, from :func:`train_bundle`, the
        training data's corpora, counts and speakers).

    See Also
    --------
    serwidgets.baseline.BaselineClassifier : the same interface on utterance functionals.

    Examples
    --------
    >>> clf = NetClassifier(("angry", "sad"), Recipe(epochs=2))
    >>> clf.get_params()["recipe"].epochs, clf.input_shape
    (2, (64, 188))
    >>> clf.fit(train_df, val_df).predict_proba(test_df)              # doctest: +SKIP
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

    @property
    def net(self) -> dict:
        """How to rebuild the network (for the bundle's card)."""
        return {"name": self._recipe.net, "kwargs": dict(self._recipe.net_kwargs),
                "input_shape": list(self.input_shape)}

    # -- deprecated attribute names (one release) --------------------------------------------
    model = renamed_attribute("network_")
    history = renamed_attribute("history_", default=lambda self: {})
    training = renamed_attribute("training_", default=lambda self: {"recipe": self._recipe.to_dict()})

    def _targets(self, df):
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = set(df["emotion"]) - set(index)
        if unknown:
            raise ValueError(f"emotions {sorted(unknown)} are not in the labels {tuple(self.labels)}")
        return df["emotion"].map(index).to_numpy(np.int64)

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

        recipe = self._recipe
        self.classes_ = tuple(self.labels)
        self.training_ = {"recipe": recipe.to_dict()}
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
            counts = np.bincount(targets, minlength=len(self.classes_))
            class_weight = {k: len(targets) / (len(counts) * c) for k, c in enumerate(counts) if c}

        strategy = self.strategy or tf.distribute.get_strategy()
        with strategy.scope():
            self.network_ = nets.build(recipe.net, self.input_shape, len(self.classes_), **recipe.net_kwargs)
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
        if "val_loss" in history:
            self.history_["best_epoch"] = int(np.argmin(history["val_loss"])) + 1
        return self

    def save(self, directory, *, task, metrics=None, name=None, description=""):
        """Write the trained network as a bundle (:func:`serwidgets.export.save_bundle`: Keras,
        LiteRT and the card).

        The card's ``training`` entry is :attr:`training_` (completed by :func:`train_bundle`).

        Returns
        -------
        pathlib.Path
        """
        from . import export

        if not hasattr(self, "network_"):
            raise RuntimeError("fit the classifier before saving it")
        return export.save_bundle(
            self.network_, directory, net=self.net, labels=self.classes_, task=task,
            feature_config=self._feature_config, audio_options=self._audio_options,
            training=self.training_,
            metrics=metrics or {}, name=name or Path(directory).name, description=description,
        )

    def predict_proba(self, df):
        """Probabilities ``(len(df), len(labels))``: the mean over 1-s-hop windows per clip.

        A clip whose file cannot be used gets uniform probabilities (and is counted on stderr).
        """
        if not hasattr(self, "network_"):
            raise RuntimeError("fit the classifier before predicting")
        cfg = self._feature_config
        hop = cfg.sample_rate if self.kind == "waveform" else round(cfg.sample_rate / cfg.hop_length)
        inputs = self._inputs(df)
        out = np.full((len(df), len(self.classes_)), 1.0 / len(self.classes_))
        usable = [i for i, x in enumerate(inputs) if x is not None]
        if not usable:
            return out
        from .features import windows

        batches = [windows(inputs[i], self.input_shape[-1], hop, kind=self.kind)[0] for i in usable]
        probabilities = self.network_.predict(np.concatenate(batches), batch_size=64, verbose=0)
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
        The trained classifier; ``classifier.training_`` is the card's ``training`` entry.

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
    classifier.training_ = {
        "corpora": sorted(df["corpus"].unique()),
        "counts": {f"{c}/{e}": int(n) for (c, e), n in counts.items()},
        "speakers": int(df["speaker"].nunique()),
        "val_speakers": sorted(df.iloc[split.val]["speaker"].unique()),
        "recipe": recipe.to_dict(),
        "epochs_run": len(classifier.history_.get("loss", [])),
        "best_epoch": classifier.history_.get("best_epoch"),
    }
    classifier.save(directory, task=task, metrics=metrics, name=name, description=description)
    return classifier
