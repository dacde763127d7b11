"""The headless load generator (benchmarks/bench_people.py) still speaks the dashboard's protocol.

One real ``ser dashboard`` server with a cap of one kernel: the first person opens the page,
records short takes and gets labels; the second arrives while the first is there and gets the
busy page; when the first leaves, the culler frees the kernel. Functional checks only: the
figures the benchmark prints are for people to read, not for tests to assert.
"""

from __future__ import annotations

import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_people  # noqa: E402


def test_one_person_records_and_the_next_one_past_the_cap_gets_the_busy_page(shared_data, monkeypatch):
    monkeypatch.setenv("SER_DATA", str(shared_data))
    # In its own thread: the browser tests' Playwright leaves an event loop running in this one,
    # and the benchmark's asyncio.run refuses to start inside a running loop.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(bench_people.measure, [
            "--people", "2", "--arrive", "4", "--duration", "14", "--every", "4", "--seconds", "1.5",
            "--sample", "1", "--pool", "1", "--free-timeout", "60",
            "--DashboardVoila.max_kernels=1",
            "--MappingKernelManager.cull_idle_timeout=3", "--MappingKernelManager.cull_interval=1",
        ]).result()
    first, second = result.people
    assert first.errors == [] and not first.busy and first.ready is not None and first.kernel_id
    assert len(first.labels) >= 2  # takes 4 s apart for 14 s, after a random start within 4 s
    assert math.isfinite(first.freed)  # the kernel of the closed page was shut down
    assert second.busy and second.errors == [] and second.ready is None and second.kernel_id is None
    assert any(sample.kernels for sample in result.samples)
    assert all(rss > 0 and pss > 0 for sample in result.samples for rss, pss in sample.kernels.values())
    assert result.samples[0].status["warm"] == 1  # the run starts with the pool's notebook run
    assert result.samples[-1].status["in_use"] == 0
    bench_people.report(result)  # the report runs on what was measured
