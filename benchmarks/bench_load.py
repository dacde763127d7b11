"""The dashboard under load: many people at once, many page loads, many takes in one page.

Starts the dashboard server exactly as ``ser dashboard`` does (``serwidgets.server`` with
``config/voila.json``) on a free 127.0.0.1 port and drives Debian's Chromium (one browser, a
context per person, the fake microphone playing a real EmoDB sentence). Prints figures; no
pass/fail. Timings are wall-clock as the person sees them; "stop -> label" is measured inside
the page (click -> the panel's next revision). Memory is the RSS of the server process and of
its kernels (psutil), read at each stage.

Modes (all bounded in count and time, 127.0.0.1 only):

    .venv/bin/python benchmarks/bench_load.py                 # 10 people at once (--pages)
    .venv/bin/python benchmarks/bench_load.py --loads 50      # 50 page loads, --pages at a time
    .venv/bin/python benchmarks/bench_load.py --cycles 30     # 30 record/stop takes in one page

Default mode: the pool fills (idle RSS); one page opens and records (RSS with 1 page); the
other pages open at once, then all record 3 s and press Stop together (--takes times; RSS with
N pages); all pages close and the script waits --after seconds (RSS after closing). A hung
page is one whose dashboard did not appear within --page-timeout, or whose label did not
appear within --label-timeout after Stop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from serwidgets.cli.dashboard import NOTEBOOK, voila_command, voila_env

# The fake microphone and the in-page stop -> label probe are bench_dashboard's (same folder).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dashboard import CHROMIUM, STOP_TO_LABEL, UTTERANCE, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
READY = ".ser-panel[data-state='idle'] .ser-model:not(:empty)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(name: str, values: list[float], target: str = "") -> str:
    if not values:
        return f"{name}: no values"
    line = (f"{name}: p50 {percentile(values, 0.5):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
            f"max {max(values):.2f} s (n={len(values)})")
    return line + (f"   [target {target}]" if target else "")


class Server:
    """The dashboard server as a subprocess, with its RSS and kernel counts."""

    def __init__(self, notebook: Path, extra: list[str], workdir: Path):
        import psutil

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = voila_env()
        env.setdefault("SER_DATA", str(REPO.parent / "shared" / "data"))
        self.log_path = workdir / "server.log"
        self.log = self.log_path.open("w")
        command = voila_command(notebook, self.port, open_browser=False) + extra
        self.process = subprocess.Popen(command, cwd=notebook.parent, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.process.pid)

    def wait_listening(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited; log: {self.log_path}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise SystemExit(f"the server did not listen within {timeout} s; log: {self.log_path}")

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/serwidgets/status", timeout=10) as response:
            return json.loads(response.read())

    def wait_pool(self, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        status = {}
        while time.monotonic() < deadline:
            status = self.status()
            # Warm: the notebook has run in the pooled kernel (Voilà pools a kernel once it has started).
            if status.get("warm", 0) >= self.pool_size and status.get("starting", 0) == 0:
                return status
            time.sleep(0.5)
        return status

    pool_size = 1

    def rss(self) -> tuple[float, float, int]:
        """(server MiB, kernels MiB, kernel processes)."""
        import psutil

        server = self.ps.memory_info().rss
        kernels, n = 0, 0
        for child in self.ps.children(recursive=True):
            try:
                kernels += child.memory_info().rss
                n += 1
            except psutil.NoSuchProcess:
                pass
        return server / 2**20, kernels / 2**20, n

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds so far: (server, its kernels, everything else this script started: the browser)."""
        import psutil

        def seconds(process) -> float:
            try:
                times = process.cpu_times()
                return times.user + times.system
            except psutil.NoSuchProcess:
                return 0.0

        server = seconds(self.ps)
        tree = {child.pid for child in self.ps.children(recursive=True)}
        kernels = sum(seconds(psutil.Process(pid)) for pid in tree if psutil.pid_exists(pid))
        me = psutil.Process()
        others = sum(seconds(child) for child in me.children(recursive=True)
                     if child.pid != self.ps.pid and child.pid not in tree)
        return server, kernels, others

    def rss_line(self, stage: str) -> str:
        server, kernels, n = self.rss()
        return f"RSS {stage}: server {server:.0f} MiB + {n} kernels {kernels:.0f} MiB = {server + kernels:.0f} MiB"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


HUNG = []  # (page, what it showed) of pages that never showed the dashboard


async def open_page(browser, url: str, timeout: float):
    """(context, page, seconds to a usable record button; None when it never came, "busy" for the busy page)."""
    context = await browser.new_context(viewport={"width": 900, "height": 900})
    await context.grant_permissions(["microphone"], origin=url)
    page = await context.new_page()
    start = time.perf_counter()
    try:
        response = await page.goto(url, timeout=timeout * 1000)
        if response is not None and response.status == 503:
            return context, page, "busy"
        await page.wait_for_selector(READY, timeout=timeout * 1000)
        await page.wait_for_selector(".ser-record:not([disabled])", timeout=timeout * 1000)
    except Exception as error:
        try:
            shown = (await page.inner_text("body"))[-300:]
            await page.screenshot(path=f"{tempfile.gettempdir()}/bench-load-hung-{len(HUNG)}.png")
        except Exception:
            shown = ""
        HUNG.append((f"{type(error).__name__}", shown))
        return context, page, None
    return context, page, time.perf_counter() - start


async def take(page, seconds: float, label_timeout: float) -> float | None:
    """Record ``seconds`` and stop; seconds from the stop click to the label (None: none came)."""
    await page.click(".ser-record")
    await page.wait_for_selector(".ser-record[data-state='recording']", timeout=30_000)
    await asyncio.sleep(seconds)
    try:
        latency = await asyncio.wait_for(page.evaluate(STOP_TO_LABEL), label_timeout)
        await page.wait_for_selector(".ser-record[data-state='idle']:not([disabled])", timeout=30_000)
    except Exception:
        return None
    state = await page.get_attribute(".ser-panel", "data-state")
    return latency / 1000 if state == "result" else None


async def people(args, server: Server, browser) -> None:
    url = server.url
    idle = server.rss()
    print(server.rss_line("idle (pool full, no page)"))
    first = await open_page(browser, url, args.page_timeout)
    opened = [first]
    stop_times, hung_labels = [], 0
    latency = await take(first[1], args.seconds, args.label_timeout) if isinstance(first[2], float) else None
    one = server.rss()
    print(server.rss_line("with 1 page (after one take)"))
    cpu_before = server.cpu()
    rest = await asyncio.gather(*(open_page(browser, url, args.page_timeout) for _ in range(args.pages - 1)))
    cpu_opened = server.cpu()
    opened += rest
    live = [page for _, page, seconds in opened if isinstance(seconds, float)]
    hung_pages = len(opened) - len(live)
    cpu_takes = server.cpu()
    for _ in range(args.takes):
        latencies = await asyncio.gather(*(take(page, args.seconds, args.label_timeout) for page in live))
        stop_times += [x for x in latencies if x is not None]
        hung_labels += sum(x is None for x in latencies)
        await asyncio.sleep(1.0)
    cpu_after = server.cpu()
    many = server.rss()
    print(server.rss_line(f"with {len(opened)} pages (after {args.takes} takes each)"))
    for context, _, _ in opened:
        await context.close()
    closed_at = time.monotonic()
    back_at = None
    while time.monotonic() - closed_at < args.after:
        await asyncio.sleep(2)
        if back_at is None and server.status().get("in_use", 1) == 0 and server.rss()[2] <= idle[2]:
            back_at = time.monotonic() - closed_at
    after = server.rss()
    print(server.rss_line(f"{args.after:.0f} s after closing all pages"))
    print(f"status then: {server.status()}")
    print()
    print(f"{args.pages} people at once (pool of {server.pool_size} preheated kernels)")
    print(summary("page open -> record button (first page alone)", [first[2]] if isinstance(first[2], float) else []))
    for error, shown in HUNG:
        print(f"  hung: {error}; the page showed: {shown!r}")
    print(summary(f"page open -> record button ({args.pages - 1} pages at once)",
                  [s for _, _, s in rest if isinstance(s, float)], "p50 <= 2 s with the pool warm"))
    print(summary(f"stop -> label ({len(live)} pages stopping together, {args.takes} rounds)", stop_times,
                  "p50 <= 1.0 s, p95 <= 3 s"))
    if latency is not None:
        print(f"stop -> label, first page alone: {latency:.2f} s")
    spent = [b - a for a, b in zip(cpu_before, cpu_opened)]
    print(f"CPU for the {args.pages - 1} page opens: server {spent[0]:.1f} s, kernels {spent[1]:.1f} s, "
          f"browser {spent[2]:.1f} s (the browser shares this machine's cores; a visitor's runs on theirs)")
    spent = [b - a for a, b in zip(cpu_takes, cpu_after)]
    print(f"CPU for the takes ({len(live)} pages x {args.takes} x {args.seconds:g} s): server {spent[0]:.1f} s, "
          f"kernels {spent[1]:.1f} s, browser {spent[2]:.1f} s")
    print(f"hung pages: {hung_pages} never showed the dashboard, {hung_labels} stops got no label")
    per_user = (sum(many[:2]) - sum(idle[:2])) / max(1, len(opened))
    print(f"RSS per extra person: {per_user:.0f} MiB (server + kernels, {len(opened)} pages over idle); "
          f"first page: {sum(one[:2]) - sum(idle[:2]):.0f} MiB")
    growth = sum(after[:2]) - sum(idle[:2])
    print(f"RSS {args.after:.0f} s after closing: {growth:+.0f} MiB against idle "
          f"(kernels back to the pool's {idle[2]} after {back_at:.0f} s)" if back_at is not None else
          f"RSS {args.after:.0f} s after closing: {growth:+.0f} MiB against idle (kernels not back to idle yet)")


async def loads(args, server: Server, browser) -> None:
    limit = asyncio.Semaphore(args.pages)
    times, hung, busy = [], 0, 0

    async def one() -> None:
        nonlocal hung, busy
        async with limit:
            context, page, seconds = await open_page(browser, server.url, args.page_timeout)
            if seconds == "busy":
                busy += 1
            elif seconds is None:
                hung += 1
            else:
                times.append(seconds)
            await context.close()

    await asyncio.gather(*(one() for _ in range(args.loads)))
    print(f"{args.loads} page loads, {args.pages} at a time (pool of {server.pool_size})")
    print(summary("page open -> record button", times))
    print(f"hung pages: {hung} (dashboard not shown within {args.page_timeout:.0f} s)   [target 0]; "
          f"busy pages: {busy}")
    for error, shown in HUNG:
        print(f"  hung: {error}; the page showed: {shown!r}")
    print(server.rss_line("right after the last load"))


async def cycles(args, server: Server, browser) -> None:
    context, page, seconds = await open_page(browser, server.url, args.page_timeout)
    if not isinstance(seconds, float):
        raise SystemExit(f"the page did not open: {HUNG}")
    latencies, failures = [], 0
    await take(page, args.seconds, args.label_timeout)  # first take: imports, caches
    await asyncio.sleep(1)
    start = server.rss()
    for _ in range(args.cycles):
        latency = await take(page, args.seconds, args.label_timeout)
        if latency is None:
            failures += 1
        else:
            latencies.append(latency)
        await asyncio.sleep(0.3)
    await asyncio.sleep(2)
    end = server.rss()
    await context.close()
    print(f"{args.cycles} record/stop takes of {args.seconds:g} s in one page")
    print(summary("stop -> label", latencies))
    print(f"failures: {failures}   [target 0]")
    print(f"RSS growth over the takes (after a first take): kernels {end[1] - start[1]:+.1f} MiB, "
          f"server {end[0] - start[0]:+.1f} MiB   [target <= 5 MiB]")


async def run(args, server: Server) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={args.mic}", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update",
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding"])
        try:
            if args.loads:
                await loads(args, server, browser)
            elif args.cycles:
                await cycles(args, server, browser)
            else:
                await people(args, server, browser)
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10, help="people at once (default 10)")
    parser.add_argument("--takes", type=int, default=2, help="rounds of recordings per page (default 2)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each recording")
    parser.add_argument("--loads", type=int, default=0, help="page loads to make, --pages at a time")
    parser.add_argument("--cycles", type=int, default=0, help="record/stop takes in one page")
    parser.add_argument("--after", type=float, default=60.0, help="seconds to wait after closing all pages")
    parser.add_argument("--page-timeout", type=float, default=120.0)
    parser.add_argument("--label-timeout", type=float, default=60.0)
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--pool", type=int, default=None, help="preheated kernels (default: config/voila.json)")
    args, server_args = parser.parse_known_args()  # the rest goes to the server, e.g. --DashboardVoila.max_kernels=16

    import soundfile

    data = Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "data"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    args.mic = workdir / "mic.wav"
    y, sr = soundfile.read(data / UTTERANCE, dtype="int16")
    soundfile.write(args.mic, y, sr, subtype="PCM_16")

    extra = list(server_args)
    if args.pool is not None:
        extra.append(f"--VoilaConfiguration.default_pool_size={args.pool}")
    server = Server(args.notebook, extra, workdir)
    try:
        server.wait_listening()
        server.pool_size = pool_size(args)
        status = server.wait_pool()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"dashboard load benchmark: {server.url}, notebook {args.notebook.name}, fake mic {UTTERANCE}")
        print(f"machine: {os.cpu_count()} CPUs, load average {load} at start (a shared machine inflates these "
              f"figures); server status {status}")
        asyncio.run(run(args, server))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average at the end: {load}; server log: {server.log_path}")
    finally:
        server.stop()


def pool_size(args) -> int:
    if args.pool is not None:
        return args.pool
    config = json.loads((Path(voila_env()["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0]) / "voila.json").read_text())
    return int(config.get("VoilaConfiguration", {}).get("default_pool_size", 1))


if __name__ == "__main__":
    sys.exit(main())
