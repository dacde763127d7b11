"""Model inputs: noisy rows at the requested SNR, reproducible per row; noisy copies are caught
by the leakage guard."""

from __future__ import annotations

import numpy as np
import pytest

from serwidgets import augment, inputs, splits


def test_noisy_inputs_have_the_requested_snr_and_are_reproducible(emodb3):
    rows = emodb3.iloc[:2]
    clean = inputs.load_inputs(rows, "waveform")
    noisy = inputs.load_inputs(rows.assign(snr_db=10.0), "waveform")
    again = inputs.load_inputs(rows.assign(snr_db=10.0), "waveform")
    other_copy = inputs.load_inputs(rows.assign(snr_db=10.0, copy=1), "waveform")
    for c, n, a, o in zip(clean, noisy, again, other_copy):
        assert augment.measure_snr(c, n) == pytest.approx(10.0, abs=0.01)
        np.testing.assert_array_equal(n, a)
        assert not np.array_equal(n, o)  # another copy of the same clip gets other noise


def test_log_mel_inputs_of_noisy_rows_differ_from_clean(emodb3):
    rows = emodb3.iloc[:1]
    (clean,), (noisy,) = inputs.load_inputs(rows), inputs.load_inputs(rows.assign(snr_db=0.0))
    assert clean.shape == noisy.shape and not np.allclose(clean, noisy)


def test_row_rng_is_seeded_by_file_snr_and_copy():
    draw = [inputs.row_rng(*key).random() for key in (("a.wav", 10.0), ("a.wav", 10.0), ("b.wav", 10.0),
                                                      ("a.wav", 5.0), ("a.wav", 10.0, 1))]
    assert draw[0] == draw[1] and len(set(draw)) == 4


def test_noisy_copies_are_caught_by_the_guard(emodb3):
    leaky = inputs.with_noisy_copies(emodb3, 1, seed=0)
    assert len(leaky) == 2 * len(emodb3) and inputs.with_noisy_copies(emodb3, 0) is emodb3
    assert (leaky["source"].iloc[len(emodb3):].to_numpy() == emodb3["path"].to_numpy()).all()
    snr = leaky["snr_db"].iloc[len(emodb3):]
    assert snr.between(5.0, 20.0).all() and leaky["snr_db"].iloc[:len(emodb3)].isna().all()
    with pytest.raises(splits.LeakageError, match="source"):
        splits.check_leakage(leaky, splits.random_split(leaky), speaker_independent=False)
