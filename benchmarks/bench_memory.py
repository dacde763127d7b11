"""Memory per person: what each dashboard kernel adds, by proportional set size (PSS).

Starts ``--kernels`` ipykernels one after another (as Voilà does, with the server's
``SER_NUM_THREADS=1``), runs the dashboard notebook's code in each, and has each "person"
record ``--takes`` times as the browser's Recorder does: ``recording`` on, the take streamed in
0.25-s ``chunk`` messages in real time (the live timeline analyses the last 3 s every 0.5 s),
then the whole take as a WAV ``recording`` message. After each kernel it reads
``/proc/<pid>/smaps_rollup`` of every kernel so far.

PSS counts a page shared by n processes as 1/n in each, so the sum of the kernels' PSS is
what they take together, and its growth from one kernel to the next is what one more person
costs (shared libraries, the encoder file and LiteRT's weight cache are paid once). RSS counts
shared pages in full in every process. The first kernel's import stages are printed too.
Prints figures, asserts nothing; nothing but local processes.

    .venv/bin/python benchmarks/bench_memory.py                # 4 kernels
    .venv/bin/python benchmarks/bench_memory.py --kernels 6
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UTTERANCE = "emodb/wav/03a05Wa.wav"  # angry, 3.4 s: the take each person records

STAGES = {
    "kernel started (ipykernel)": "",
    "import serwidgets + widgets": "import serwidgets, serwidgets.widgets",
    "dashboard shown (model loaded, warmed up)": "dashboard = serwidgets.EmotionDashboard()",
    "after the takes": (
        "import time as _time, soundfile as _sf, numpy as _np\n"
        "_y, _sr = _sf.read({take!r}, dtype='int16')\n"
        "_wav = open({take!r}, 'rb').read()\n"
        "_r = dashboard.recorder\n"
        "for _ in range({takes}):\n"
        "    _r.recording = True\n"
        "    for _seq, _i in enumerate(range(0, len(_y), _sr // 4)):\n"
        "        _time.sleep(0.25)\n"
        "        _r._handle_message(_r, {{'type': 'chunk', 'seq': _seq, 'sr': _sr}}, [memoryview(_y[_i:_i + _sr // 4].tobytes())])\n"
        "    _r._handle_message(_r, {{'type': 'recording'}}, [memoryview(_wav)])\n"
        "    _r.recording = False\n"
        "    assert dashboard.panel.state == 'result', dashboard.panel.message"),
}


def smaps(pid: int) -> dict:
    """MiB per field of /proc/<pid>/smaps_rollup (Rss, Pss, Anonymous, Shared_Clean, ...)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return out


def run(client, code: str, timeout: float = 300) -> None:
    """Execute ``code`` in the kernel; raise with its traceback if it fails."""
    reply = client.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)
    if reply["content"]["status"] != "ok":
        raise RuntimeError("\n".join(reply["content"].get("traceback", [])) or str(reply["content"]))


def start_kernel(env: dict):
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=str(REPO / "notebooks"))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    return manager, client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", type=int, default=4, help="people, one kernel each (default 4)")
    parser.add_argument("--takes", type=int, default=3, help="takes each person records (default 3)")
    args = parser.parse_args()
    if args.kernels < 2:
        raise SystemExit("--kernels must be at least 2 (the cost of one more person is a difference)")

    data = Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "data"))
    env = dict(os.environ, SER_NUM_THREADS="1")  # as serwidgets.server sets it for its kernels
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"memory per person: {args.kernels} dashboard kernels, each records {UTTERANCE} {args.takes} times")
    print(f"machine: {os.cpu_count()} CPUs, load average {load} at start (memory figures do not depend on load)")

    kernels, totals = [], []
    try:
        for k in range(args.kernels):
            manager, client = start_kernel(env)
            kernels.append((manager, client))
            pid = manager.provisioner.process.pid
            for stage, code in STAGES.items():
                started = time.perf_counter()
                if code:
                    run(client, code.format(take=str(data / UTTERANCE), takes=args.takes))
                if k == 0:
                    m = smaps(pid)
                    print(f"  kernel 1, {stage:<42} RSS {m['Rss']:6.1f}  PSS {m['Pss']:6.1f}  anonymous "
                          f"{m['Anonymous']:6.1f} MiB  ({time.perf_counter() - started:.1f} s)")
            time.sleep(1.0)  # let the kernel settle (idle threads, freed buffers)
            each = [smaps(m.provisioner.process.pid) for m, _ in kernels]
            totals.append(sum(m["Pss"] for m in each))
            pss = ", ".join(f"{m['Pss']:.0f}" for m in each)
            rss = ", ".join(f"{m['Rss']:.0f}" for m in each)
            print(f"{k + 1} kernel(s) after their takes: PSS {totals[-1]:7.1f} MiB in all "
                  f"(each {pss}); RSS each {rss} MiB")
    finally:
        for manager, client in kernels:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    steps = [b - a for a, b in zip(totals, totals[1:])]
    per_person = (totals[-1] - totals[0]) / (len(totals) - 1)
    print(f"PSS per additional person who has recorded: {per_person:.1f} MiB (mean of "
          f"{', '.join(f'{s:.1f}' for s in steps)})   [target <= 80 MB]")
    print(f"first person (one kernel alone): PSS {totals[0]:.1f} MiB")


if __name__ == "__main__":
    sys.exit(main())
