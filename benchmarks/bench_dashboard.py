"""How fast the dashboard feels: page open -> interactive, and stop click -> label shown.

Serves notebooks/dashboard.ipynb with Voilà exactly as ``ser dashboard`` does, drives Debian's
Chromium with a fake microphone playing a real EmoDB sentence, and prints figures (no
asserts). Timings are taken in the browser (performance.now()), so they include the
websocket round trip, the kernel's analysis and the drawing of the label.

    .venv/bin/python benchmarks/bench_dashboard.py [--pages 3] [--takes 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from serwidgets.cli.dashboard import NOTEBOOK, voila_command, voila_env

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
UTTERANCE = "emodb/wav/03a05Wa.wav"  # angry, 3.4 s; Chromium loops the fake microphone file

# Click "Record"/"Stop" from inside the page and resolve when the panel's revision changes:
# the label and bars are drawn in the same update.
STOP_TO_LABEL = """async () => {
  const panel = document.querySelector('.ser-panel');
  const before = panel.dataset.revision;
  const shown = new Promise(resolve => {
    const observer = new MutationObserver(() => {
      if (panel.dataset.revision !== before) { observer.disconnect(); resolve(performance.now()); }
    });
    observer.observe(panel, { attributes: true, attributeFilter: ['data-revision'] });
  });
  const clicked = performance.now();
  document.querySelector('.ser-record').click();
  return (await shown) - clicked;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(name: str, values: list[float]) -> str:
    return (f"{name}: median {statistics.median(values):.3f} s, min {min(values):.3f} s, "
            f"max {max(values):.3f} s (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3, help="page loads to time (each starts a kernel)")
    parser.add_argument("--takes", type=int, default=5, help="recordings to time on one page")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each recording")
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--no-preheat", action="store_true",
                        help="start each page's kernel on request (config/voila.json preheats one)")
    args = parser.parse_args()

    import soundfile
    from playwright.sync_api import sync_playwright

    data = Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "data"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    mic = workdir / "mic.wav"
    y, sr = soundfile.read(data / UTTERANCE, dtype="int16")
    soundfile.write(mic, y, sr, subtype="PCM_16")

    port = free_port()
    env = voila_env()
    env["SER_DATA"] = str(data)
    log = (workdir / "voila.log").open("w")
    command = voila_command(args.notebook, port, open_browser=False)
    if args.no_preheat:
        command.append("--VoilaConfiguration.preheat_kernel=False")
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if server.poll() is not None:
                raise SystemExit(f"Voilà exited; log in {log.name}")
            time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update"])
            context = browser.new_context()
            context.grant_permissions(["microphone"], origin=url.rstrip("/"))

            open_times = []
            for _ in range(args.pages):
                page = context.new_page()
                start = time.perf_counter()
                page.goto(url)
                # Interactive = the record button is there and the model is loaded.
                page.wait_for_selector(".ser-panel[data-state='idle'] .ser-model:not(:empty)", timeout=120_000)
                page.wait_for_selector(".ser-record", timeout=120_000)
                open_times.append(time.perf_counter() - start)
                page.close()

            page = context.new_page()
            page.goto(url)
            page.wait_for_selector(".ser-panel[data-state='idle'] .ser-model:not(:empty)", timeout=120_000)
            latencies = []
            for _ in range(args.takes):
                page.click(".ser-record")
                page.wait_for_selector(".ser-record[data-state='recording']")
                time.sleep(args.seconds)
                latencies.append(page.evaluate(STOP_TO_LABEL) / 1000)
                page.wait_for_selector(".ser-record[data-state='idle']:not([disabled])")
                time.sleep(0.5)
            label = page.text_content(".ser-top-label")
            browser.close()
    finally:
        server.terminate()
        server.wait()
        log.close()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    kernels = "started per page" if args.no_preheat else "preheated"
    print(f"dashboard benchmark: Voilà {url} (kernel {kernels}), notebook {args.notebook.name}, fake mic {UTTERANCE}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (shared machines inflate these figures)")
    print(summary("page open -> interactive", open_times))
    print(summary(f"stop click -> label shown ({args.seconds:g} s recordings)", latencies))
    print(f"last label: {label}")


if __name__ == "__main__":
    main()
