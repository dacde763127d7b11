"""Keras network builders, registered by name.

Each builder takes the input shape (without the batch axis), the number of classes and its own
keyword arguments, and returns an uncompiled :class:`keras.Model` ending in a softmax. Every
builder accepts ``unroll`` (passed to :class:`keras.layers.LSTM`): the LiteRT export rebuilds the
same net with ``unroll=True`` and copies the weights, which works because unrolling changes the
graph, not the weights.

Networks
--------
``zhao2019_2d``
    2-D CNN-LSTM on a log-mel spectrogram ``(n_mels, frames)``.
``zhao2019_1d``
    1-D CNN-LSTM on the prepared 16 kHz waveform ``(samples,)``.

Both follow J. Zhao, X. Mao and L. Chen (2019), "Speech emotion recognition using deep 1D & 2D
CNN LSTM networks", *Biomedical Signal Processing and Control* 47, 312-323: four *local feature
learning blocks* (convolution, batch normalisation, ELU, max pooling), an LSTM over the remaining
time axis, and a softmax.

Examples
--------
>>> from serwidgets import nets
>>> model = nets.build("zhao2019_2d", (64, 188), n_classes=7, filters=[4, 4, 8, 8], lstm_units=8)
>>> model.output_shape, model.layers[-1].activation.__name__
((None, 7), 'softmax')
>>> nets.build("zhao2019_1d", (48000,), n_classes=6, filters=[4, 4, 8, 8], lstm_units=8).output_shape
(None, 6)
"""

from __future__ import annotations

import numpy as np

__all__ = ["NETS", "build", "zhao2019_2d", "zhao2019_1d"]

# Pool sizes (frequency, time) of the four 2-D blocks. The paper's 2x2, 4x4, 4x4, 4x4 divides
# time by 128: a 3-s input (188 frames) leaves the LSTM one step. 2x2 everywhere divides it
# by 16 and leaves 11 steps, so the LSTM models a sequence again.
POOLING_2D = {
    "default": ((2, 2), (2, 2), (2, 2), (2, 2)),
    "paper": ((2, 2), (4, 4), (4, 4), (4, 4)),
}
FILTERS = (64, 64, 128, 128)


def zhao2019_2d(
    input_shape,
    n_classes,
    *,
    pooling="default",
    filters=FILTERS,
    lstm_units=256,
    dropout=0.3,
    unroll=False,
):
    """Zhao et al. (2019) 2-D CNN-LSTM on a log-mel spectrogram.

    Four local feature-learning blocks (Conv2D 3x3, BatchNorm, ELU, MaxPool) with 64, 64,
    128 and 128 filters, an LSTM over time and a softmax. The frequency and channel axes of
    the last block are flattened into the LSTM's features.

    Pooling is the one deliberate change: the paper's 2x2, 4x4, 4x4, 4x4 pooling (kept as
    ``pooling="paper"``, which needs at least 128 mel bands) shrinks a 3-s input of 188
    frames to a single time step, so the LSTM sees no sequence. ``pooling="default"`` pools
    2x2 in every block: 188 frames become 11 LSTM steps and 64 mel bands become 4. Dropout before the classifier (not in the paper)
    regularises the small corpora. Width is a parameter: the training recipe
    (:class:`serwidgets.train.Recipe`) uses a quarter of the paper's filters for CPU speed.

    Parameters
    ----------
    input_shape : tuple of int
        ``(n_mels, frames)``, e.g. ``(64, 188)`` for the default :class:`FeatureConfig`.
    n_classes : int
        Number of emotions.
    pooling : {"default", "paper"} or sequence of four (freq, time) pool sizes
    filters : sequence of four int
    lstm_units : int
    dropout : float
        Dropout rate before the softmax layer.
    unroll : bool
        Unroll the LSTM (for the LiteRT export); same weights either way.

    Returns
    -------
    keras.Model
        Input ``(batch, n_mels, frames)``, output ``(batch, n_classes)`` probabilities.

    Examples
    --------
    >>> zhao2019_2d((64, 188), 6).count_params()                  # doctest: +SKIP
    1116998
    """
    import keras
    from keras import layers

    pools = POOLING_2D[pooling] if isinstance(pooling, str) else pooling
    shrink = np.prod(pools, axis=0)  # (freq, time): floor division by each pool in turn
    if input_shape[0] < shrink[0] or input_shape[1] < shrink[1]:
        raise ValueError(f"input {tuple(input_shape)} (mels, frames) is too small for pooling "
                         f"{pooling!r}: needs at least {tuple(int(n) for n in shrink)}")
    inputs = keras.Input(shape=tuple(input_shape), name="log_mel")
    # (mels, frames) -> (frames, mels, 1): time first, so it survives as the LSTM's sequence.
    x = layers.Permute((2, 1))(inputs)
    x = layers.Reshape((input_shape[1], input_shape[0], 1))(x)
    for n_filters, (pool_freq, pool_time) in zip(filters, pools):
        x = layers.Conv2D(n_filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ELU()(x)
        x = layers.MaxPooling2D((pool_time, pool_freq))(x)
    _, steps, bands, channels = x.shape
    x = layers.Reshape((steps, bands * channels))(x)
    x = layers.LSTM(lstm_units, unroll=unroll)(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="zhao2019_2d")


def zhao2019_1d(
    input_shape,
    n_classes,
    *,
    filters=FILTERS,
    kernel_size=3,
    pool_size=4,
    lstm_units=256,
    dropout=0.3,
    unroll=False,
):
    """Zhao et al. (2019) 1-D CNN-LSTM on the raw waveform.

    Four local feature-learning blocks (Conv1D, BatchNorm, ELU, MaxPool 4) with 64, 64, 128
    and 128 filters, an LSTM and a softmax. Pooling by 4 four times turns 3 s at 16 kHz
    (48 000 samples) into 187 LSTM steps of 16 ms, the hop of the log-mel front end.

    Parameters
    ----------
    input_shape : tuple of int
        ``(samples,)``, e.g. ``(48000,)``.
    n_classes : int
    filters : sequence of four int
    kernel_size, pool_size : int
    lstm_units : int
    dropout : float
        Dropout rate before the softmax layer (not in the paper).
    unroll : bool
        Unroll the LSTM (for the LiteRT export); same weights either way.

    Returns
    -------
    keras.Model
        Input ``(batch, samples)``, output ``(batch, n_classes)`` probabilities.

    Examples
    --------
    >>> zhao2019_1d((48000,), 6).output_shape                     # doctest: +SKIP
    (None, 6)
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="waveform")
    x = layers.Reshape((input_shape[0], 1))(inputs)
    for n_filters in filters:
        x = layers.Conv1D(n_filters, kernel_size, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ELU()(x)
        x = layers.MaxPooling1D(pool_size)(x)
    x = layers.LSTM(lstm_units, unroll=unroll)(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="zhao2019_1d")


#: Network name -> builder ``f(input_shape, n_classes, *, unroll=False, **kwargs)``.
NETS = {"zhao2019_2d": zhao2019_2d, "zhao2019_1d": zhao2019_1d}


def build(name, input_shape, n_classes, **kwargs):
    """Build the registered network ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`NETS`.
    input_shape : tuple of int
        Input shape without the batch axis.
    n_classes : int
    **kwargs
        Passed to the builder (``unroll``, ``pooling``, ``lstm_units``, ...).

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> build("zhao2019_2d", (64, 188), 7, unroll=True).name       # doctest: +SKIP
    'zhao2019_2d'
    """
    if name not in NETS:
        raise KeyError(f"unknown net {name!r}; known: {', '.join(sorted(NETS))}")
    return NETS[name](tuple(input_shape), int(n_classes), **kwargs)
