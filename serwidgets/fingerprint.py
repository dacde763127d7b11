"""The environment a result was computed in: library versions, CPU, thread counts.

A CNN's training sums floating-point numbers in an order that depends on the CPU's kernels
(which SIMD instructions the libraries pick), the library versions and the number of threads.
A fold re-run on another machine therefore scores close to, not exactly, what a results file
says. :func:`environment` records what decides that order; every results file stores it
(key ``"environment"``) and ``tests/test_reproduce.py`` compares a re-run exactly only when
:func:`differences` finds nothing between the two environments.

Importing this module, and :func:`environment`, import nothing heavy: TensorFlow's thread
settings are read only when TensorFlow is already imported.

Examples
--------
>>> from serwidgets import fingerprint
>>> env = fingerprint.environment()
>>> sorted(env)
['cpu', 'libraries', 'platform', 'python', 'threads']
>>> fingerprint.differences(env, env)
[]
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from importlib import metadata

__all__ = ["LIBRARIES", "THREAD_VARIABLES", "environment", "differences", "cpu", "thread_counts"]

#: Libraries whose version can change a result (distribution names; alternatives in a tuple).
LIBRARIES = {
    "serwidgets": ("serwidgets",),
    "numpy": ("numpy",),
    "scipy": ("scipy",),
    "scikit-learn": ("scikit-learn",),
    "tensorflow": ("tensorflow-cpu", "tensorflow"),
    "keras": ("keras",),
    "librosa": ("librosa",),
    "soxr": ("soxr",),
    "soundfile": ("soundfile",),
    "opensmile": ("opensmile",),
    "ai-edge-litert": ("ai-edge-litert",),
}

#: Environment variables that set thread counts or kernels.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS")

#: CPU flags that decide which kernels numerical libraries run (the rest are recorded by hash).
SIMD_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq",
              "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile",
              "asimd", "sve", "sve2")


def _version(distributions) -> str | None:
    for distribution in distributions:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def library_versions() -> dict:
    """Installed versions of :data:`LIBRARIES` (``None`` when not installed)."""
    versions = {name: _version(distributions) for name, distributions in LIBRARIES.items()}
    if versions["serwidgets"] is None:  # a plain checkout on sys.path, not installed
        import serwidgets

        versions["serwidgets"] = serwidgets.__version__
    return versions


def cpu() -> dict:
    """CPU model, the SIMD flags of :data:`SIMD_FLAGS` it has, a hash of all flags, CPU counts."""
    model, flags = platform.processor() or None, []
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "CPU part") and model in (None, "", platform.machine()):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = sorted(set(value.split()))
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "machine": platform.machine(),
        "model": model,
        "simd": [flag for flag in SIMD_FLAGS if flag in flags],
        "flags_sha256": hashlib.sha256(" ".join(flags).encode()).hexdigest()[:16] if flags else None,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
    }


def thread_counts() -> dict:
    """TensorFlow's thread pools (when imported), BLAS/OpenMP pools, thread environment variables."""
    threads = {"tensorflow_intra_op": None, "tensorflow_inter_op": None}
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        usable = cpu()["usable_cpus"]
        for key, get, variable in (
                ("tensorflow_intra_op", "get_intra_op_parallelism_threads", "TF_NUM_INTRAOP_THREADS"),
                ("tensorflow_inter_op", "get_inter_op_parallelism_threads", "TF_NUM_INTEROP_THREADS")):
            try:
                n = getattr(tf.config.threading, get)()
            except Exception:  # a partial or unusual TensorFlow build: leave it unknown
                continue
            # 0 = TensorFlow's default: the variable if set, else one thread per usable CPU.
            threads[key] = n or int(os.environ.get(variable) or 0) or usable
    try:
        from threadpoolctl import threadpool_info

        pools = sorted({(p.get("internal_api"), p.get("num_threads")) for p in threadpool_info()},
                       key=str)
        threads["pools"] = {f"{api}": n for api, n in pools}
    except Exception:
        threads["pools"] = None
    threads["env"] = {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}
    return threads


def environment() -> dict:
    """What decides a result's floating-point sums, as a JSON-ready dict.

    Returns
    -------
    dict
        ``python`` (version), ``platform`` (OS and kernel: informative, not compared),
        ``cpu`` (:func:`cpu`), ``libraries`` (:func:`library_versions`),
        ``threads`` (:func:`thread_counts`).
    """
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu(),
        "libraries": library_versions(),
        "threads": thread_counts(),
    }


#: Keys of :func:`environment` that are informative only: the OS/kernel, and the BLAS/OpenMP
#: pools, which depend on what else the process happened to import first.
NOT_COMPARED = ("platform", "threads.pools")


def differences(saved: dict | None, current: dict | None) -> list[str]:
    """Where two fingerprints differ, as ``"key.path: saved != current"`` strings.

    An empty list means the same environment, so a deterministic computation reproduces
    exactly. A missing fingerprint (a results file written before they were recorded)
    differs from everything.

    Examples
    --------
    >>> differences({"python": "3.11.2"}, {"python": "3.12.1"})
    ['python: 3.11.2 != 3.12.1']
    >>> differences(None, {"python": "3.12.1"})
    ['environment: not recorded']
    """
    if not saved or not current:
        return ["environment: not recorded"]
    found = []

    def walk(a, b, path):
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if (f"{path}.{key}" if path else key) in NOT_COMPARED:
                    continue
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        elif a != b:
            found.append(f"{path}: {a} != {b}")

    walk(saved, current, "")
    return found
