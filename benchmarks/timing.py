"""Timing helpers the benchmark scripts share: repeated runs and their p50/p90 in milliseconds."""

from __future__ import annotations

import statistics
import time


def timed(f, runs: int, setup=None) -> list:
    """Seconds of ``runs`` calls of ``f``; with ``setup``, each call gets a fresh ``setup()`` (not timed)."""
    times = []
    for _ in range(runs):
        state = setup() if setup else None
        start = time.perf_counter()
        f(state) if setup else f()
        times.append(time.perf_counter() - start)
    return times


def ms(times) -> str:
    """``p50 … ms, p90 … ms`` of a list of seconds."""
    times = sorted(times)
    return (f"p50 {1000 * statistics.median(times):7.2f} ms, "
            f"p90 {1000 * times[int(0.9 * (len(times) - 1))]:7.2f} ms")
