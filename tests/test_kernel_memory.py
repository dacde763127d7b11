"""What keeps a dashboard kernel small (issue 20): the encoder's packed weights in one shared file,
and no scipy on the dashboard's path. ``benchmarks/bench_memory.py`` measures the result.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from serwidgets.encoders import DEFAULT_ENCODER, ENCODER_FILE, Encoder
from serwidgets.encoders.whisper import LiteRTEncoder, weight_cache_file

REPO = Path(__file__).resolve().parents[1]
ENCODER = REPO / "models" / DEFAULT_ENCODER / ENCODER_FILE
# Mel lengths: 1 and 2 frames (one encoder frame), odd and even, a 3-s take, the 30-s maximum.
LENGTHS = (1, 2, 3, 301, 300, 3000)


def mels(lengths=LENGTHS):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((80, n)).astype(np.float32) for n in lengths]


def test_states_are_identical_with_and_without_the_weight_cache(tmp_path):
    cache = tmp_path / "xnnpack" / "encoder.xnnpack"
    building = LiteRTEncoder(ENCODER, 1, cache)
    assert building.weight_cache == cache and cache.stat().st_size > 30 * 2**20
    built = cache.stat().st_mtime_ns
    loading = LiteRTEncoder(ENCODER, 1, cache)  # a second process would do the same: load it
    plain = LiteRTEncoder(ENCODER, 1)
    assert plain.weight_cache is None and loading.n_states == plain.n_states == 4
    for mel in mels():
        expected = plain(mel)
        assert expected.shape == (4, (mel.shape[1] - 1) // 2 + 1, 512)
        np.testing.assert_array_equal(building(mel), expected)
        np.testing.assert_array_equal(loading(mel), expected)
    assert cache.stat().st_mtime_ns == built  # loaded, never rewritten
    assert sorted(p.name for p in cache.parent.iterdir()) == ["encoder.xnnpack", "encoder.xnnpack.lock"]


def test_the_shipped_encoder_uses_a_cache_file_named_by_its_content(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_CACHE", str(tmp_path))
    encoder = Encoder.load()
    assert encoder._run.weight_cache == weight_cache_file(encoder.sha256)
    name = encoder._run.weight_cache.name
    assert encoder._run.weight_cache.parent == tmp_path / "xnnpack"
    assert name.startswith(encoder.sha256[:16] + "-litert") and name.endswith(".xnnpack")
    assert weight_cache_file("0" * 64) != weight_cache_file("1" * 64)


def test_an_unusable_cache_folder_packs_in_memory_with_a_warning(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="serwidgets.encoders.whisper"):
        encoder = LiteRTEncoder(ENCODER, 1, blocker / "encoder.xnnpack")
    assert encoder.weight_cache is None and "packing the weights in this process's memory" in caplog.text
    mel = mels([300])[0]
    np.testing.assert_array_equal(encoder(mel), LiteRTEncoder(ENCODER, 1)(mel))


def test_a_built_cache_is_loaded_without_writing_next_to_it(tmp_path):
    cache = tmp_path / "encoder.xnnpack"
    LiteRTEncoder(ENCODER, 1, cache)  # built ahead, as a container image would
    (tmp_path / "encoder.xnnpack.lock").unlink()
    (tmp_path / "encoder.xnnpack.lock").mkdir()  # no lock can be taken here now
    encoder = LiteRTEncoder(ENCODER, 1, cache)
    assert encoder.weight_cache == cache
    mel = mels([300])[0]
    np.testing.assert_array_equal(encoder(mel), LiteRTEncoder(ENCODER, 1)(mel))


PROBE = """
import json, sys
from pathlib import Path
from serwidgets.encoders.whisper import LiteRTEncoder
import numpy as np
cache = sys.argv[1] or None
encoder = LiteRTEncoder({encoder!r}, 1, cache)
encoder(np.zeros((80, 300), np.float32))
mapped, anonymous, path = 0, 0, None
for line in open("/proc/self/smaps"):
    parts = line.split()
    if len(parts) >= 6 and "-" in parts[0]:
        path = parts[5]
    elif parts and parts[0] == "Rss:" and cache and path == str(Path(cache).resolve()):
        mapped += int(parts[1])
    elif parts and parts[0] == "Anonymous:":
        anonymous += int(parts[1])
print(json.dumps({{"mapped_mib": mapped / 1024, "anonymous_mib": anonymous / 1024}}))
"""


def probe(cache) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(encoder=str(ENCODER)), str(cache or "")],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads Linux's /proc/self/smaps")
def test_the_packed_weights_are_read_from_the_file_not_copied(tmp_path):
    cache = tmp_path / "encoder.xnnpack"
    LiteRTEncoder(ENCODER, 1, cache)  # built here; the probes load it, as every kernel after the first
    shared, private = probe(cache), probe(None)
    assert shared["mapped_mib"] > 30, shared  # the packed weights are pages of the file (shared by processes)
    # ... and not also in the process's own memory: ~41 MiB less anonymous memory than packing in place.
    assert shared["anonymous_mib"] < private["anonymous_mib"] - 25, (shared, private)


def test_processes_starting_together_build_one_cache_file(tmp_path):
    cache = tmp_path / "encoder.xnnpack"
    code = ("import sys, numpy as np\nfrom serwidgets.encoders.whisper import LiteRTEncoder\n"
            f"e = LiteRTEncoder({str(ENCODER)!r}, 1, {str(cache)!r})\n"
            "print(float(e(np.ones((80, 100), np.float32)).sum()))")
    starts = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO) for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in starts]
    assert all(p.returncode == 0 for p in starts), [err[-2000:] for _, err in outputs]
    assert len({out.strip().splitlines()[-1] for out, _ in outputs}) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder.xnnpack", "encoder.xnnpack.lock"]


def test_the_dashboard_path_imports_no_scipy(emodb_root):
    # scipy.fft alone costs a kernel ~17 MB: the Whisper front end and the speech check use numpy's FFT.
    code = (
        "import sys, serwidgets\n"
        "model = serwidgets.load_model()\n"
        f"analysis = model.analyze({str(emodb_root / 'wav' / '03a05Wa.wav')!r})\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'scipy', 'sklearn', 'pandas'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
