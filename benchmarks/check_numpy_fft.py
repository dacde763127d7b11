"""numpy's FFT against scipy.fft on the dashboard's path, over every clip of the 7 corpora.

The Whisper front end (``features.whisper_log_mel``) and the speech check (``vad``) use numpy's
FFT so that a dashboard kernel need not import scipy (issue 20). This prints, per corpus, how
many speech decisions differ between the two FFTs, the largest difference in voiced seconds and
the largest difference in the Whisper log-mel (on every 10th clip); then the shipped model's
label and probabilities on 60 random clips per corpus, with each FFT. Prints figures, asserts
nothing; needs scipy (for the comparison only) and ``$SER_DATA``. About 12 min on 2 cores.

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
    compare_labels(data)
    return 0


def compare_labels(data: Path, per_corpus: int = 60) -> None:
    """The shipped model's label and probabilities with numpy's FFT and with scipy.fft."""
    import serwidgets

    model = serwidgets.load_model(num_threads=1)
    paths = [p for name in CORPORA
             for p in corpora.load_corpus(name, data / name)["path"].sample(per_corpus, random_state=0)]
    numpy_mel, original = features.whisper_log_mel, vad._Analysis.__init__

    def with_scipy(self, sr, frame):
        original(self, sr, frame)
        self.fft = scipy.fft

    def answer(path):
        try:
            return model.predict_file(path)
        except audio.AudioError as error:
            return type(error).__name__

    same, largest = 0, 0.0
    for path in paths:
        now = answer(path)
        features.whisper_log_mel, vad._Analysis.__init__ = scipy_log_mel, with_scipy
        vad._analysis.cache_clear()
        try:
            before = answer(path)
        finally:
            features.whisper_log_mel, vad._Analysis.__init__ = numpy_mel, original
            vad._analysis.cache_clear()
        if isinstance(now, dict) and isinstance(before, dict):
            largest = max(largest, max(abs(now[k] - before[k]) for k in now))
            same += max(now, key=now.get) == max(before, key=before.get)
        else:
            same += now == before
    print(f"shipped model, {len(paths)} clips ({per_corpus} per corpus): same label {same}/{len(paths)}; "
          f"largest probability difference {largest:.2e}")


if __name__ == "__main__":
    sys.exit(main())
