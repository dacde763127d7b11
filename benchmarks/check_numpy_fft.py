"""numpy's FFT against scipy.fft on the dashboard's path, over every clip of the 7 corpora.

The Whisper front end (``features.whisper_log_mel``) and the speech check (``vad``) use numpy's
FFT so that a dashboard kernel need not import scipy (issue 20). This prints, per corpus, how
many speech decisions differ between the two FFTs, the largest difference in voiced seconds and
the largest difference in the Whisper log-mel (on every 10th clip). Prints figures, asserts
nothing; needs scipy (for the comparison only) and ``$SER_DATA``. About 10 min on 2 cores.

    .venv/bin/python benchmarks/check_numpy_fft.py
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.fft

from serwidgets import audio, corpora, features, vad

CORPORA = ("emodb", "ravdess", "ased", "emovo", "urdu", "korean-emotiontts", "nemo")


def with_scipy_fft(y: np.ndarray):
    """vad.voice_activity with scipy.fft in place of numpy's."""
    original = vad._Analysis.__init__

    def init(self, sr, frame):
        original(self, sr, frame)
        self.fft = scipy.fft

    vad._analysis.cache_clear()
    vad._Analysis.__init__ = init
    try:
        return vad.voice_activity(y, audio.TARGET_SR)
    finally:
        vad._Analysis.__init__ = original
        vad._analysis.cache_clear()


def scipy_log_mel(y: np.ndarray) -> np.ndarray:
    """features.whisper_log_mel as it was, with scipy.fft."""
    n_fft, hop = features.WHISPER_N_FFT, features.WHISPER_HOP
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, n_fft // 2, mode="reflect"), n_fft)[::hop][:-1]
    power = np.abs(scipy.fft.rfft(frames * features._hann(n_fft, n_fft), axis=1)) ** 2
    mel = features._mel_filterbank(audio.TARGET_SR, n_fft, features.WHISPER_N_MELS, 0.0, audio.TARGET_SR / 2) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    return ((np.maximum(log_spec, log_spec.max() - 8.0) + 4.0) / 4.0).astype(np.float32)


def main() -> int:
    warnings.simplefilter("ignore")
    data = Path(os.environ.get("SER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    flips, clips, unusable, voiced, mel = [], 0, 0, 0.0, 0.0
    started = time.monotonic()
    for name in CORPORA:
        for path in corpora.load_corpus(name, data / name)["path"]:
            try:
                y = audio.load(path, audio.AudioOptions(min_speech_seconds=0))
            except audio.AudioError:
                unusable += 1
                continue
            clips += 1
            vad._analysis.cache_clear()
            now, before = vad.voice_activity(y, audio.TARGET_SR), with_scipy_fft(y)
            if now.speech != before.speech:
                flips.append(f"{path}: {before.reason()} -> {now.reason()}")
            voiced = max(voiced, abs(now.voiced_seconds - before.voiced_seconds))
            if clips % 10 == 0:
                mel = max(mel, float(np.abs(features.whisper_log_mel(y) - scipy_log_mel(y)).max()))
        print(f"{name}: {clips} clips so far; speech decisions that differ: {len(flips)}; largest difference in "
              f"voiced seconds {voiced:.3f}, in the Whisper log-mel {mel:.2e} ({time.monotonic() - started:.0f} s)",
              flush=True)
    print(f"{clips} clips ({unusable} unusable before the check); speech decisions that differ: {len(flips)}")
    for line in flips:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
