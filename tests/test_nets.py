"""The network registry: shapes, pooling choices, and unrolled rebuilds with the same weights."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from serwidgets import nets  # noqa: E402

TINY = {"filters": (4, 4, 8, 8), "lstm_units": 8}


def lstm_steps(model) -> int:
    lstm = next(layer for layer in model.layers if isinstance(layer, keras.layers.LSTM))
    return lstm.input.shape[1]


@pytest.mark.parametrize("name, shape", [("zhao2019_2d", (64, 188)), ("zhao2019_1d", (4800,))])
def test_builders_output_probabilities(name, shape):
    model = nets.build(name, shape, 5, **TINY)
    assert model.input_shape == (None, *shape)
    assert model.output_shape == (None, 5)
    x = np.random.default_rng(0).standard_normal((3, *shape)).astype("float32")
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert (p >= 0).all()


def test_default_pooling_leaves_the_lstm_a_sequence():
    # 3 s at a 16 ms hop = 188 frames: 2x2 pooling four times -> 11 steps; the paper's -> 1.
    assert lstm_steps(nets.build("zhao2019_2d", (64, 188), 7, **TINY)) == 11
    assert lstm_steps(nets.build("zhao2019_2d", (128, 188), 7, pooling="paper", **TINY)) == 1
    assert lstm_steps(nets.build("zhao2019_1d", (48000,), 7, **TINY)) == 187


def test_too_small_input_for_the_pooling_is_an_error():
    with pytest.raises(ValueError, match="too small"):
        nets.build("zhao2019_2d", (64, 188), 7, pooling="paper", **TINY)


@pytest.mark.parametrize("name, shape", [("zhao2019_2d", (32, 94)), ("zhao2019_1d", (4800,))])
def test_unrolled_rebuild_takes_the_same_weights(name, shape):
    model = nets.build(name, shape, 4, **TINY)
    unrolled = nets.build(name, shape, 4, unroll=True, **TINY)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in unrolled.get_weights()]
    unrolled.set_weights(model.get_weights())
    x = np.random.default_rng(1).standard_normal((2, *shape)).astype("float32")
    np.testing.assert_allclose(unrolled.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_unknown_net_names_the_known_ones():
    with pytest.raises(KeyError, match="zhao2019_2d"):
        nets.build("resnet", (64, 188), 7)
