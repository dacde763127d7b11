#!/usr/bin/env python
"""Encode one augmented copy of every clip of the lever table (issue 18) and cache its pooled states.

    python scripts/encode_augmented.py --kind band [--copy 0] [--out DIR] [--limit N] [--threads 1]

Augmentation in embedding space: a training clip passes through a channel (a codec at a low bit
rate, a telephone band or an equaliser, a room, noise, a speed or pitch change), is prepared
again as a recording through that channel would be (``audio.prepare``: trimmed, normalised, the
speech check), and its pooled states (``pool_stats`` of the shipped encoder, ``(4, 1024)``) are
cached as ``DIR/<sha256[:2]>/<sha256 of the source file>.npz`` with ``pooled`` and ``meta`` (what
was drawn; a copy that lost its speech keeps only ``meta``). ``scripts/run_levers.py augment``
adds them to the training side of each leave-one-corpus-out fold.

The draw of each copy is seeded by (the source file's sha256, kind, copy), so a rebuild is
identical and a stopped run resumes where it stopped (clips are taken in a seeded random order,
so a partial run covers every corpus). This is the research's ``encode_job.py`` and ``augs.py``
(``/work/lab/r18a``) with the same arithmetic; only ``noise`` depends on the table's row order (its
babble talkers are drawn from the table), and it was never run there.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from serwidgets.audio import TARGET_SR as SR  # noqa: E402

# -- codecs: PyAV encode + decode in memory ------------------------------------------------------
CODECS = (  # (container, codec, sample rate, bit rates in bit/s)
    ("ogg", "libopus", 16000, (6000, 8000, 12000, 16000)),
    ("mp3", "libmp3lame", 16000, (16000, 24000, 32000)),
    ("amr", "libopencore_amrnb", 8000, (4750, 7400, 12200)),
    ("wav", "pcm_mulaw", 8000, (64000,)),
)
#: The sample format each encoder takes (the rest take s16).
CODEC_FORMATS = {"libmp3lame": "s16p"}


def _encode_decode(y, container, codec, rate, bit_rate):
    import av
    import soxr

    from serwidgets.audio import decode

    x = np.clip(y if rate == SR else soxr.resample(y, SR, rate).astype(np.float32), -1, 1)
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray((x * 32767).astype(np.int16)[None], format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=CODEC_FORMATS.get(codec, "s16"), layout="mono", rate=rate)
        for f in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    z, sr = decode(buf.getvalue(), name=f"<{codec}>")
    z = np.asarray(z, np.float32)
    if z.ndim > 1:
        z = z.mean(axis=1 if z.shape[1] < z.shape[0] else 0)
    return z if sr == SR else soxr.resample(z, sr, SR).astype(np.float32)


def codec(y, rng, **_):
    container, name, rate, rates = CODECS[rng.integers(len(CODECS))]
    bit_rate = int(rates[rng.integers(len(rates))])
    return _encode_decode(y, container, name, rate, bit_rate), {"kind": "codec", "codec": name, "bit_rate": bit_rate}


# -- band-limiting / EQ -------------------------------------------------------------------------
def _biquad(kind, f0, gain_db, q=0.707):
    """RBJ cookbook biquad (b, a) of a low or high shelf or a peaking filter."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / SR
    alpha = np.sin(w0) / (2 * q)
    c = np.cos(w0)
    if kind == "peak":
        b = [1 + alpha * A, -2 * c, 1 - alpha * A]
        a = [1 + alpha / A, -2 * c, 1 - alpha / A]
    else:
        s = 1 if kind == "low" else -1
        sq = 2 * np.sqrt(A) * alpha
        b = [A * ((A + 1) - s * (A - 1) * c + sq), s * 2 * A * ((A - 1) - s * (A + 1) * c),
             A * ((A + 1) - s * (A - 1) * c - sq)]
        a = [(A + 1) + s * (A - 1) * c + sq, -s * 2 * ((A - 1) + s * (A + 1) * c), (A + 1) + s * (A - 1) * c - sq]
    return np.array(b) / a[0], np.array(a) / a[0]


def band(y, rng, **_):
    """A telephone band-pass (half the copies) or a random three-band equaliser."""
    from scipy.signal import butter, lfilter, sosfilt

    if rng.random() < 0.5:
        lo, hi = rng.uniform(200, 400), rng.uniform(3000, 3800)
        sos = butter(4, [lo, hi], btype="bandpass", fs=SR, output="sos")
        return sosfilt(sos, y).astype(np.float32), {"kind": "band", "type": "telephone", "lo": lo, "hi": hi}
    meta = {"kind": "band", "type": "eq"}
    z = np.asarray(y, np.float64)
    for kind, (fmin, fmax), gmax in (("low", (100, 500), 12), ("high", (1500, 5000), 12), ("peak", (400, 3000), 9)):
        f0, g = float(np.exp(rng.uniform(np.log(fmin), np.log(fmax)))), float(rng.uniform(-gmax, gmax))
        b, a = _biquad(kind, f0, g, q=1.0 if kind == "peak" else 0.707)
        z = lfilter(b, a, z)
        meta[kind] = (f0, g)
    return z.astype(np.float32), meta


# -- reverberation: synthetic exponentially decaying room responses -----------------------------
def reverb(y, rng, **_):
    from scipy.signal import fftconvolve, lfilter

    rt60 = float(rng.uniform(0.2, 1.0))
    drr_db = float(rng.uniform(-3, 12))  # direct-to-reverberant ratio
    n = int(rt60 * 1.2 * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # -60 dB at rt60
    tail = lfilter([0.4], [1, -0.6], tail)  # walls absorb the highs: a one-pole low-pass
    tail[:int(rng.uniform(0.002, 0.02) * SR)] = 0  # pre-delay
    tail *= np.sqrt(10 ** (-drr_db / 10) / max(np.sum(tail ** 2), 1e-12))
    tail[0] += 1.0  # the direct sound
    return fftconvolve(y, tail)[: len(y)].astype(np.float32), {"kind": "reverb", "rt60": rt60, "drr_db": drr_db}


# -- noise, speed, pitch (serwidgets.augment) ----------------------------------------------------
def noise(y, rng, babble_pool=None, **_):
    """White, pink or babble (4 talkers of ``babble_pool``: (speaker, waveform) pairs) at 5-20 dB SNR."""
    from serwidgets.augment import add_noise

    kind = ("white", "pink", "babble")[rng.integers(3)] if babble_pool else ("white", "pink")[rng.integers(2)]
    snr = float(rng.uniform(5, 20))
    meta = {"kind": "noise", "noise": kind, "snr_db": snr}
    if kind == "babble":
        pick = rng.choice(len(babble_pool), size=min(4, len(babble_pool)), replace=False)
        meta["babble"] = [babble_pool[i][0] for i in pick]
        return add_noise(y, snr, "babble", rng=rng, babble_pool=[babble_pool[i][1] for i in pick],
                         n_talkers=len(pick)), meta
    return add_noise(y, snr, kind, rng=rng), meta


def speed(y, rng, **_):
    from serwidgets.augment import speed_perturb

    factor = float((0.9, 1.1)[rng.integers(2)] * rng.uniform(0.97, 1.03))
    return speed_perturb(y, factor), {"kind": "speed", "factor": factor}


def pitch(y, rng, **_):
    from serwidgets.augment import pitch_shift

    steps = float(rng.choice([-1, 1]) * rng.uniform(1.0, 3.0))
    return pitch_shift(y, steps), {"kind": "pitch", "semitones": steps}


AUGMENT = {"codec": codec, "band": band, "reverb": reverb, "noise": noise, "speed": speed, "pitch": pitch}


def seed(sha256: str, kind: str, copy: int) -> int:
    """The seed of one copy's draw: the same file, kind and copy always draw the same channel."""
    return int.from_bytes(hashlib.sha256(f"{sha256}/{kind}/{copy}".encode()).digest()[:8], "little")


def entry(directory, sha256) -> Path:
    return Path(directory) / sha256[:2] / f"{sha256}.npz"


def _write(path, **arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)  # atomic: a reader never sees half an entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", required=True, choices=AUGMENT)
    parser.add_argument("--copy", type=int, default=0)
    parser.add_argument("--out", default=None, help="cache folder (default $SER_CACHE/levers/l3/<kind>-c<copy>)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="stop after this many new clips")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    from run_levers import usable_table

    from serwidgets import audio
    from serwidgets.cache import default_cache_dir, file_sha256
    from serwidgets.encoders import Encoder, pool_stats

    out = Path(args.out or default_cache_dir() / "levers" / "l3" / f"{args.kind}-c{args.copy}")
    df, _ = usable_table(args.data_dir)
    keys = [file_sha256(p) for p in df["path"]]
    encoder = Encoder.load(num_threads=args.threads)
    order = np.random.default_rng(0).permutation(len(df))
    todo = [i for i in order if not entry(out, keys[i]).exists()]
    print(f"{args.kind}-c{args.copy}: {len(df) - len(todo)} cached in {out}, {len(todo)} to encode", flush=True)
    todo = todo[: args.limit]
    corpus, speaker = df["corpus"].to_numpy(), df["speaker"].astype(str).to_numpy()
    start, done, failed = time.perf_counter(), 0, 0
    for i in todo:
        rng = np.random.default_rng(seed(keys[i], args.kind, args.copy))
        context = {}
        if args.kind == "noise":
            # Babble of the same corpus's other speakers: in leave-one-corpus-out they are on the
            # training side whenever the source clip is.
            pool = np.flatnonzero((corpus == corpus[i]) & (speaker != speaker[i]))
            context["babble_pool"] = [(speaker[j], audio.load(df["path"].iloc[j]))
                                      for j in rng.choice(pool, size=4, replace=False)]
        try:
            z, meta = AUGMENT[args.kind](audio.load(df["path"].iloc[i]), rng, **context)
            y = audio.prepare(z, SR)
        except audio.AudioError as error:  # the copy lost its speech: recorded, not encoded
            failed += 1
            _write(entry(out, keys[i]), meta=np.array(json.dumps({"kind": args.kind, "failed": str(error)})))
            continue
        _write(entry(out, keys[i]), pooled=pool_stats(encoder.states(y)),
               meta=np.array(json.dumps(meta, default=float)))
        done += 1
        if done % 200 == 0:
            print(f"  {done}/{len(todo)}: {done / (time.perf_counter() - start):.1f} clips/s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    seconds = time.perf_counter() - start
    print(f"done: {done} copies encoded, {failed} lost their speech, in {seconds:.0f} s "
          f"(load {os.getloadavg()[0]:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
