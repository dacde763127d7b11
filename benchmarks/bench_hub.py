"""What a student costs under JupyterHub: memory and CPU of their server and kernel (deploy/jupyterhub_config.py).

Starts a real JupyterHub with deploy/jupyterhub_config.py on 127.0.0.1, as
tests/browser/test_jupyterhub.py does (dummy authenticator, free ports), and logs --students
people in through the login page in Debian's Chromium (a context each, the fake microphone
playing a real EmoDB sentence). Each lands on their Voilà page, records one take of --seconds,
and the first also uploads a --upload-seconds file (the uploader's longest) to find the peak.
Prints figures, no pass/fail:

* login -> dashboard ready (their server's start, Voilà's run of the notebook, the page);
* stop -> label per take (measured inside the page);
* per student, after the take: RSS, PSS and USS of their Jupyter server and of their kernel
  (psutil, /proc/PID/smaps_rollup), the kernel's peak RSS (VmHWM), and the CPU seconds the
  take cost (kernel + server);
* the hub's own processes (hub, proxy, idle culler);
* after the pages close: how long until each student's kernel is shut down (their server's
  kernel culling, config/voila.json's ``MappingKernelManager``), within --after seconds.

Run (bounded: --students <= 10, 127.0.0.1 only)::

    .venv/bin/python benchmarks/bench_hub.py --students 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests" / "browser"))
from bench_dashboard import CHROMIUM, STOP_TO_LABEL, UTTERANCE  # noqa: E402
from test_jupyterhub import PASSWORD, api, running_hub  # noqa: E402

MiB = 2**20


def processes_of(name: str) -> dict[str, list]:
    """The student's Jupyter server and kernel processes (they carry ``JUPYTERHUB_USER=name``)."""
    import psutil

    found = {"server": [], "kernel": []}
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            environ = process.info["environ"] or {}
            if environ.get("JUPYTERHUB_USER") != name or environ.get("JUPYTERHUB_SERVICE_NAME"):
                continue
            cmdline = " ".join(process.info["cmdline"] or [])
            found["kernel" if "ipykernel" in cmdline else "server"].append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def memory(processes) -> dict[str, float]:
    """RSS, PSS, USS and peak RSS (MiB) summed over ``processes``."""
    total = {"rss": 0.0, "pss": 0.0, "uss": 0.0, "peak": 0.0}
    for process in processes:
        info = process.memory_full_info()
        total["rss"] += info.rss / MiB
        total["pss"] += info.pss / MiB
        total["uss"] += info.uss / MiB
        status = Path(f"/proc/{process.pid}/status").read_text()
        total["peak"] += int(next(line.split()[1] for line in status.splitlines()
                                  if line.startswith("VmHWM:"))) / 1024
    return total


def cpu_seconds(processes) -> float:
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def hub_processes(root: Path) -> list:
    """The hub and its proxy (they carry the test hub's marker) and its idle culler service."""
    import psutil

    mine = []
    for process in psutil.process_iter(["environ"]):
        environ = process.info["environ"] or {}
        if (environ.get("SERWIDGETS_TEST_HUB") == str(root)
                or environ.get("JUPYTERHUB_SERVICE_NAME") == "idle-culler"):
            mine.append(process)
    return mine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=3, help="people logging in at once (1-10)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each take")
    parser.add_argument("--upload-seconds", type=float, default=120.0,
                        help="length of the file the first student uploads (0: none)")
    parser.add_argument("--after", type=float, default=90.0,
                        help="seconds to wait for kernels to go after the pages close")
    parser.add_argument("--every", type=float, default=10.0,
                        help="seconds between one student's takes, for the sizing lines")
    parser.add_argument("--sizes", default="30,300,3000", help="class sizes to print the sizing lines for")
    args = parser.parse_args()
    if not 1 <= args.students <= 10:
        parser.error("--students must be 1 to 10 (one Chromium context each, on this machine)")

    import numpy as np
    import soundfile
    from playwright.sync_api import sync_playwright

    from serwidgets.cli.dashboard import voila_env

    data = Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "data"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    y, sr = soundfile.read(data / UTTERANCE, dtype="int16")
    mic = workdir / "mic.wav"
    soundfile.write(mic, y, sr, subtype="PCM_16")
    long_file = workdir / "long.wav"
    if args.upload_seconds:
        repeats = int(np.ceil(args.upload_seconds * sr / len(y)))
        soundfile.write(long_file, np.tile(y, repeats)[: int(args.upload_seconds * sr)], sr, subtype="PCM_16")

    env = voila_env()
    env["SER_DATA"] = str(data)
    env["JUPYTER_RUNTIME_DIR"] = str(workdir / "runtime")
    names = [f"student{i:02d}" for i in range(1, args.students + 1)]
    ready, latencies, per_student, take_cpu, start_cpu = {}, [], {}, {}, {}
    with running_hub(workdir, env) as (url, token, log), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic}", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update"])
        pages, started = {}, {}
        for name in names:  # all log in before any page is ready, as a class does
            context = browser.new_context()
            context.grant_permissions(["microphone"], origin=url)
            page = context.new_page()
            page.goto(f"{url}/hub/login")
            page.fill("#username_input", name)
            page.fill("#password_input", PASSWORD)
            started[name] = time.perf_counter()
            page.click("#login_submit", no_wait_after=True)
            pages[name] = page
        for name, page in pages.items():
            page.wait_for_selector(".ser-panel[data-state='idle'] .ser-model:not(:empty)", timeout=300_000)
            ready[name] = time.perf_counter() - started[name]
            processes = processes_of(name)
            start_cpu[name] = cpu_seconds(processes["kernel"] + processes["server"])
        for name, page in pages.items():
            processes = processes_of(name)
            before = cpu_seconds(processes["kernel"] + processes["server"])
            page.click(".ser-record")
            page.wait_for_selector(".ser-record[data-state='recording']")
            time.sleep(args.seconds)
            latencies.append(page.evaluate(STOP_TO_LABEL) / 1000)
            page.wait_for_selector(".ser-record[data-state='idle']:not([disabled])")
            take_cpu[name] = cpu_seconds(processes["kernel"] + processes["server"]) - before
            per_student[name] = {part: memory(found) for part, found in processes.items()}
        upload = None
        if args.upload_seconds:
            name, page = names[0], pages[names[0]]
            with page.expect_file_chooser() as chooser:
                page.click(".ser-upload")
            before = page.get_attribute(".ser-panel", "data-revision")
            chooser.value.set_files(str(long_file))
            page.wait_for_function("before => document.querySelector('.ser-panel').dataset.revision !== before",
                                   arg=before, timeout=300_000)
            upload = memory(processes_of(name)["kernel"])
        hub_memory = memory(hub_processes(workdir))
        users = api(url, token, "GET", "/hub/api/users")
        for page in pages.values():
            page.context.close()
        closed = time.perf_counter()
        freed = {}
        while time.perf_counter() - closed < args.after and len(freed) < len(names):
            for name in names:
                if name not in freed and not processes_of(name)["kernel"]:
                    freed[name] = time.perf_counter() - closed
            time.sleep(1)
        browser.close()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"JupyterHub benchmark: deploy/jupyterhub_config.py, {args.students} students, "
          f"{args.seconds:g} s takes, fake mic {UTTERANCE}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (shared machines inflate the times, not the memory)")
    print(f"servers running: {sum(1 for u in users if u['servers'])} of {len(names)}")
    times = sorted(ready.values())
    print(f"login -> dashboard ready: median {times[len(times) // 2]:.1f} s, max {times[-1]:.1f} s")
    latencies.sort()
    print(f"stop -> label: median {latencies[len(latencies) // 2]:.2f} s, max {latencies[-1]:.2f} s")
    print("per student after one take (MiB): server RSS/PSS/USS | kernel RSS/PSS/USS, kernel peak RSS "
          "| CPU s of the take")
    for name, parts in per_student.items():
        s, k = parts["server"], parts["kernel"]
        print(f"  {name}: {s['rss']:.0f}/{s['pss']:.0f}/{s['uss']:.0f} | {k['rss']:.0f}/{k['pss']:.0f}/{k['uss']:.0f}, "
              f"{k['peak']:.0f} | {take_cpu[name]:.2f}")
    mean = {key: np.mean([parts["server"][key] + parts["kernel"][key] for parts in per_student.values()])
            for key in ("rss", "pss", "uss")}
    per_take, to_start = np.mean(list(take_cpu.values())), np.mean(list(start_cpu.values()))
    print(f"per student, server + kernel, mean: RSS {mean['rss']:.0f} MiB, PSS {mean['pss']:.0f} MiB, "
          f"USS {mean['uss']:.0f} MiB; CPU to start {to_start:.1f} s, per take {per_take:.2f} s")
    server_rss = np.mean([parts["server"]["rss"] for parts in per_student.values()])
    peak = None
    if upload is not None:
        peak = server_rss + upload["peak"]
        print(f"kernel after a {args.upload_seconds:g} s upload: RSS {upload['rss']:.0f} MiB, "
              f"peak RSS {upload['peak']:.0f} MiB (with its server: {peak:.0f} MiB)")
    print(f"hub + proxy + idle culler: RSS {hub_memory['rss']:.0f} MiB, PSS {hub_memory['pss']:.0f} MiB")
    print(f"sizing from these figures (one take per student every {args.every:g} s; the hub's own cost not scaled):")
    for size in (int(n) for n in args.sizes.split(",")):
        line = (f"  {size} students: memory {size * mean['pss'] / 1024:.1f} GiB by PSS (one machine), "
                f"{size * mean['rss'] / 1024:.1f} GiB by RSS (one container each)")
        if peak is not None:
            line += f", {size * peak / 1024:.1f} GiB if all upload at once"
        line += (f"; cores {size * per_take / args.every:.1f} busy on average, "
                 f"{size * to_start:.0f} CPU s to start them all")
        print(line)
    for name in names:
        print(f"  {name}: kernel shut down {freed[name]:.0f} s after the page closed" if name in freed
              else f"  {name}: kernel still running {args.after:g} s after the page closed")


if __name__ == "__main__":
    main()
