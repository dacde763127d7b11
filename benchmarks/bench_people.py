"""A class at once, without a browser per person: N people open the dashboard and record.

Each person is a headless client that speaks the page's own protocol to ``ser dashboard``'s
server on 127.0.0.1, so Chromium's CPU (a visitor's, on their machine) stays off the figures:

1. **open the page**: ``GET /`` (Voilà runs the notebook in a preheated kernel, or starts one;
   past the kernel cap the answer is the busy page, HTTP 503), then the kernel's websocket
   (``/api/kernels/<id>/channels``, JupyterLab's v1 protocol), then the widget manager's
   ``request_states`` on the ``jupyter.widget.control`` comm. The page is *ready* when the
   states have come back with the dashboard's panel showing its model (``model_info``) and its
   recorder: what the browser waits for before drawing the record button.
2. **record** every ``--every`` seconds (a random phase per person): the Recorder's messages as
   ``static/recorder.js`` sends them -- ``recording: true``, the take as 16-bit PCM ``chunk``
   messages every 0.25 s in real time (the live timeline), then the whole take as a WAV
   ``recording`` message and ``recording: false``. *Stop -> label* runs from sending the WAV to
   the panel's update that shows the result (the browser adds its worklet flush, at most
   0.25 s, and drawing).
3. **leave** after ``--duration`` seconds: the websocket closes, as when a tab is closed. The
   kernel of a closed page must be shut down by the server's culler: *freed* is the time from
   the close until ``/api/kernels/<id>`` answers 404.

People arrive spread evenly over ``--arrive`` seconds. Every ``--sample`` seconds the server's and
each kernel's RSS and PSS (``/proc/<pid>/smaps_rollup``) are read, with the server's status and
the load average. An error is a page that is neither ready nor busy, a take without a label
(within ``--label-timeout``), a result other than a label, or a kernel not freed within
``--free-timeout``. Bounded: at most ``MAX_PEOPLE`` people, and the run ends after arrive +
duration + the timeouts. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_people.py --people 1 --duration 60
    .venv/bin/python benchmarks/bench_people.py --people 30 --arrive 60 --duration 300

Other arguments go to the server, e.g. ``--DashboardVoila.max_kernels=40``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import Server, percentile, pool_size, summary  # noqa: E402

from serwidgets.cli.dashboard import NOTEBOOK  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
UTTERANCE = "emodb/wav/03a05Wa.wav"  # angry, 3.4 s: every person's take
MAX_PEOPLE = 200
PROTOCOL = "v1.kernel.websocket.jupyter.org"
CHUNK_SECONDS = 0.25  # the Recorder's default chunk_seconds


# -- the kernel websocket, v1 protocol (jupyter_server's serialize_msg_to_ws_v1) ----------------
def pack(channel: str, parts: list[bytes]) -> bytes:
    """One v1 frame: the part offsets (8-byte little-endian), the channel, then the parts."""
    offsets = [8 * (len(parts) + 3)]
    offsets.append(offsets[-1] + len(channel.encode()))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    head = struct.pack(f"<{len(offsets) + 1}Q", len(offsets), *offsets)
    return head + channel.encode() + b"".join(parts)


def unpack(frame: bytes) -> tuple[str, dict, list[bytes]]:
    """(channel, message without buffers, buffers) of one v1 frame."""
    n = struct.unpack_from("<Q", frame)[0]
    offsets = struct.unpack_from(f"<{n}Q", frame, 8)  # the last one is the frame's end
    parts = [frame[a:b] for a, b in zip(offsets, offsets[1:])]
    channel = parts[0].decode()
    header, parent, metadata, content = (json.loads(p) for p in parts[1:5])
    return channel, {"header": header, "parent_header": parent, "metadata": metadata, "content": content}, parts[5:]


class Kernel:
    """One page's websocket to its kernel: send shell messages, route comm messages to waiters."""

    def __init__(self, connection):
        self.connection = connection
        self.session = uuid.uuid4().hex
        self.updates: asyncio.Queue = asyncio.Queue()  # (comm id, data) of every comm_msg from the kernel
        self.closed = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            frame = await self.connection.read_message()
            if frame is None:
                self.closed.set()
                return
            if isinstance(frame, str):
                continue
            channel, msg, _ = unpack(frame)
            if channel == "iopub" and msg["header"]["msg_type"] == "comm_msg":
                await self.updates.put((msg["content"]["comm_id"], msg["content"]["data"]))

    def send(self, msg_type: str, content: dict, buffers=(), metadata=None) -> None:
        header = {"msg_id": uuid.uuid4().hex, "username": "bench", "session": self.session,
                  "msg_type": msg_type, "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        parts = [json.dumps(x).encode() for x in (header, {}, metadata or {}, content)]
        self.connection.write_message(pack("shell", parts + [bytes(b) for b in buffers]), binary=True)

    def comm_msg(self, comm_id: str, data: dict, buffers=()) -> None:
        self.send("comm_msg", {"comm_id": comm_id, "data": data}, buffers)

    def close(self) -> None:
        self.connection.close()
        self.reader.cancel()


# -- one person ----------------------------------------------------------------------------
@dataclass
class Person:
    number: int
    ready: float | None = None  # seconds from GET to the widget states
    busy: bool = False
    kernel_id: str | None = None
    labels: list[float] = field(default_factory=list)  # stop -> label, seconds
    errors: list[str] = field(default_factory=list)
    closed_at: float | None = None  # monotonic time the page closed
    freed: float | None = None  # seconds from closing to the kernel gone


async def open_page(url: str, person: Person, timeout: float):
    """GET the page and fetch the widget states; (kernel, recorder comm id, panel comm id) or None."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    started = time.monotonic()
    try:
        response = await AsyncHTTPClient().fetch(HTTPRequest(url + "/", request_timeout=timeout))
    except HTTPClientError as error:
        if error.code == 503:
            person.busy = True
        else:
            person.errors.append(f"page: HTTP {error.code}")
        return None
    except Exception as error:  # noqa: BLE001 - any failure to get the page is an error to count
        person.errors.append(f"page: {type(error).__name__}: {error}")
        return None
    page = response.body.decode()
    found = re.search(r'"kernelId":\s*"([0-9a-f-]+)"', page)
    if not found:
        person.errors.append("page: no kernel id in the page")
        return None
    person.kernel_id = found.group(1)
    cookies = "; ".join(c.split(";")[0] for c in response.headers.get_list("Set-Cookie"))
    ws_url = url.replace("http://", "ws://") + f"/api/kernels/{person.kernel_id}/channels?session_id={uuid.uuid4().hex}"
    try:
        connection = await asyncio.wait_for(websocket_connect(
            HTTPRequest(ws_url, headers={"Cookie": cookies}), subprotocols=[PROTOCOL],
            max_message_size=64 * 2**20), timeout)
        kernel = Kernel(connection)
        control = uuid.uuid4().hex
        kernel.send("comm_open", {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}},
                    metadata={"version": "1.0.0"})
        kernel.comm_msg(control, {"method": "request_states"})
        deadline = started + timeout
        while True:
            comm_id, data = await asyncio.wait_for(kernel.updates.get(), max(0.1, deadline - time.monotonic()))
            if comm_id == control and data.get("method") == "update_states":
                break
    except Exception as error:  # noqa: BLE001
        person.errors.append(f"websocket: {type(error).__name__}: {error}")
        return None
    recorder = panel = None
    for model_id, model in data["states"].items():
        state = model["state"]
        if "chunk_seconds" in state and "recording" in state:
            recorder = recorder or model_id  # the dashboard's own Recorder comes first
        if "revision" in state and "model_info" in state:
            panel = model_id
            info, shown = state["model_info"], state["state"]
    if recorder is None or panel is None or not info or shown != "idle":
        person.errors.append(f"page: no dashboard in the widget states (panel {panel}, recorder {recorder})")
        kernel.close()
        return None
    person.ready = time.monotonic() - started
    return kernel, recorder, panel


def take_bytes(seconds: float, data: Path) -> tuple[list[bytes], bytes, int]:
    """(PCM chunks of CHUNK_SECONDS, the whole take as a 16-bit WAV, its rate) of the EmoDB take."""
    import numpy as np
    import soundfile

    y, sr = soundfile.read(data / UTTERANCE, dtype="int16")
    n = int(seconds * sr)
    y = np.resize(y, n)  # loops the utterance for takes longer than it, as Chromium's fake microphone
    step = int(CHUNK_SECONDS * sr)
    chunks = [y[i:i + step].astype("<i2").tobytes() for i in range(0, n, step)]
    wav = io.BytesIO()
    soundfile.write(wav, y, sr, subtype="PCM_16", format="WAV")
    return chunks, wav.getvalue(), sr


async def record(kernel: Kernel, recorder: str, panel: str, take, label_timeout: float) -> tuple[float | None, str]:
    """One take; (stop -> label seconds, "") or (None, what went wrong)."""
    chunks, wav, sr = take
    kernel.comm_msg(recorder, {"method": "update", "state": {"recording": True}, "buffer_paths": []})
    for seq, chunk in enumerate(chunks):
        await asyncio.sleep(CHUNK_SECONDS)
        kernel.comm_msg(recorder, {"method": "custom", "content": {"type": "chunk", "seq": seq, "sr": sr}}, [chunk])
    while not kernel.updates.empty():  # what the live timeline sent so far
        kernel.updates.get_nowait()
    stopped = time.monotonic()
    kernel.comm_msg(recorder, {"method": "custom", "content": {"type": "recording", "sr": sr,
                                                               "n_samples": (len(wav) - 44) // 2}}, [wav])
    kernel.comm_msg(recorder, {"method": "update", "state": {"recording": False}, "buffer_paths": []})
    deadline = stopped + label_timeout
    while True:
        try:
            comm_id, data = await asyncio.wait_for(kernel.updates.get(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return None, f"no label within {label_timeout:g} s"
        state = data.get("state", {}) if data.get("method") == "update" else {}
        if comm_id == panel and state.get("state") in ("result", "no_speech", "error", "no_model"):
            if state["state"] != "result":
                return None, f"panel {state['state']}: {state.get('message', '')}"
            return time.monotonic() - stopped, ""


async def person_visits(url: str, person: Person, args, take, t0: float) -> None:
    kernel_etc = await open_page(url, person, args.page_timeout)
    if kernel_etc is None:
        return
    kernel, recorder, panel = kernel_etc
    leave = time.monotonic() + args.duration
    rng = random.Random(person.number)
    await asyncio.sleep(rng.uniform(0, args.every))
    try:
        while time.monotonic() + args.seconds < leave:
            start = time.monotonic()
            latency, error = await record(kernel, recorder, panel, take, args.label_timeout)
            if latency is not None:
                person.labels.append(latency)
            else:
                person.errors.append(f"take: {error}")
            if kernel.closed.is_set():
                person.errors.append("take: the kernel's websocket closed")
                return
            await asyncio.sleep(max(0.0, start + args.every - time.monotonic()))
        await asyncio.sleep(max(0.0, leave - time.monotonic()))
    finally:
        kernel.close()
        person.closed_at = time.monotonic()


async def watch_freed(url: str, people: list[Person], timeout: float) -> None:
    """Seconds from each page's close to its kernel being gone (``/api/kernels/<id>``: 404)."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    while True:
        waiting = [p for p in people if p.closed_at is not None and p.freed is None and p.kernel_id]
        for person in waiting:
            try:
                await AsyncHTTPClient().fetch(f"{url}/api/kernels/{person.kernel_id}", request_timeout=10)
            except HTTPClientError as error:
                if error.code == 404:
                    person.freed = time.monotonic() - person.closed_at
            except Exception:  # noqa: BLE001 - a busy server answers late; ask again
                pass
            if person.freed is None and time.monotonic() - person.closed_at > timeout:
                person.freed = float("inf")
        await asyncio.sleep(2.0)


def smaps(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MiB (0, 0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = {line.split()[0]: int(line.split()[1]) for line in f if line.rstrip().endswith("kB")}
    except OSError:
        return 0.0, 0.0
    return fields["Rss:"] / 1024, fields["Pss:"] / 1024


@dataclass
class Sample:
    t: float
    server: tuple[float, float]
    kernels: dict  # pid -> (RSS, PSS)
    status: dict
    load: float
    cpu: dict = field(default_factory=dict)  # pid -> CPU seconds so far (the server's own pid too)


async def sample_memory(server: Server, samples: list[Sample], every: float, t0: float) -> None:
    while True:
        kernels, cpu = {}, {}
        for process in [server.ps, *server.ps.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except Exception:  # noqa: BLE001 - gone meanwhile
                continue
            cpu[process.pid] = times.user + times.system
            rss, pss = smaps(process.pid)
            if rss and process.pid != server.ps.pid:
                kernels[process.pid] = (rss, pss)
        try:
            status = await asyncio.get_running_loop().run_in_executor(None, server.status)
        except Exception:  # noqa: BLE001
            status = {}
        samples.append(Sample(time.monotonic() - t0, smaps(server.process.pid), kernels, status, os.getloadavg()[0], cpu))
        await asyncio.sleep(every)


def report(result: Measurement) -> None:
    args, people, samples, pool = result.args, result.people, result.samples, result.pool
    ready = [p.ready for p in people if p.ready is not None]
    labels = [x for p in people for x in p.labels]
    busy = sum(p.busy for p in people)
    errors = [(p.number, e) for p in people for e in p.errors]
    freed = [p.freed for p in people if p.freed is not None]
    print()
    print(f"{args.people} people arriving over {args.arrive:g} s, each for {args.duration:g} s, a {args.seconds:g}-s "
          f"take every {args.every:g} s (pool of {pool} preheated kernels)")
    print(summary("page ready (GET -> widget states)", ready, "p95 <= 10 s when 30 arrive within a minute"))
    print(summary("stop -> label (WAV sent -> panel shows the label)", labels, "p50 <= 1.0 s, p95 <= 3 s"))
    print(f"takes: {len(labels)} labelled; busy pages: {busy}; errors: {len(errors)}   [target 0]")
    for number, error in errors[:20]:
        print(f"  person {number}: {error}")
    slow = [f for f in freed if f > 60]
    print(summary("closed page -> kernel freed", [f for f in freed if f != float("inf")], "every one <= 60 s")
          + f"; not freed within {args.free_timeout:g} s: {sum(f == float('inf') for f in freed)}, "
            f"over 60 s: {len(slow)}")
    print()
    print("memory over time (MiB; PSS shares pages among the processes that map them):")
    print(f"{'t (s)':>6} {'load':>5} {'server RSS/PSS':>15} {'kernels':>8} {'in use':>7} {'pooled':>7} {'warm':>5} "
          f"{'kernel PSS sum':>15} {'kernel PSS p50/max':>19} {'kernel RSS max':>15}")
    step = max(1, len(samples) // 40)
    for s in samples[::step] + ([samples[-1]] if samples and (len(samples) - 1) % step else []):
        pss = sorted(v[1] for v in s.kernels.values())
        rss = [v[0] for v in s.kernels.values()]
        print(f"{s.t:6.0f} {s.load:5.1f} {s.server[0]:7.0f}/{s.server[1]:<7.0f} {len(pss):8d} "
              f"{s.status.get('in_use', '?'):>7} {s.status.get('pooled', '?'):>7} {s.status.get('warm', '?'):>5} "
              f"{sum(pss):15.0f} "
              f"{(percentile(pss, 0.5) if pss else 0):9.0f}/{(max(pss) if pss else 0):<9.0f} "
              f"{(max(rss) if rss else 0):15.0f}")
    if samples:
        peak = max(samples, key=lambda s: s.server[1] + sum(v[1] for v in s.kernels.values()))
        total = peak.server[1] + sum(v[1] for v in peak.kernels.values())
        print(f"peak PSS, server + kernels: {total:.0f} MiB at t={peak.t:.0f} s with {len(peak.kernels)} kernels "
              f"({peak.status.get('in_use', '?')} in use)")
        idle = [s for s in samples if s.status.get("in_use") == 0]
        if idle:
            last = idle[-1]
            print(f"after everyone left (t={last.t:.0f} s): server RSS {last.server[0]:.0f} MiB, "
                  f"{len(last.kernels)} kernels PSS {sum(v[1] for v in last.kernels.values()):.0f} MiB")
    cpu_report(result, len(labels))
    print(f"load average at the end: {result.load_end}; server log: {result.log}")


def cpu_report(result: Measurement, takes: int) -> None:
    """CPU seconds per kernel start and per take, and the people 2 cores serve at 70 % busy.

    CPU time is what the work costs whatever else runs on the machine, so unlike the latencies
    it can size the cap on a shared machine. A kernel still in the pool at the end (started,
    notebook run, never used) cost one start; the rest of the kernels' CPU went to takes.
    """
    samples = result.samples
    if len(samples) < 2 or not takes:
        return
    server_pid = result.server_pid
    last_cpu: dict = {}
    for s in samples:
        last_cpu.update(s.cpu)
    at_start = samples[0].cpu
    kernel_cpu = sum(v - at_start.get(pid, 0.0) for pid, v in last_cpu.items() if pid != server_pid)
    server_cpu = last_cpu.get(server_pid, 0.0) - at_start.get(server_pid, 0.0)
    pooled = [pid for pid in samples[-1].kernels if pid not in samples[0].kernels]
    starts = len([pid for pid in last_cpu if pid not in at_start and pid != server_pid])
    per_start = (sum(last_cpu[pid] for pid in pooled) / len(pooled)) if pooled else float("nan")
    per_take = (kernel_cpu - starts * per_start) / takes if pooled else float("nan")
    print(f"CPU: kernels {kernel_cpu:.0f} s, server {server_cpu:.0f} s over the run (an upper bound: also page "
          f"loads); {starts} kernels started, "
          f"a kernel start with its notebook {per_start:.2f} s (the {len(pooled)} left in the pool)")
    if pooled:
        per_person = (per_take + server_cpu / takes) / result.args.every
        print(f"CPU per {result.args.seconds:g}-s take (live timeline + label, kernel + server): {per_take:.2f} + "
              f"{server_cpu / takes:.2f} s; at one take per {result.args.every:g} s, {os.cpu_count()} cores are 70 % "
              f"busy with {0.7 * (os.cpu_count() or 1) / per_person:.0f} people recording")


@dataclass
class Measurement:
    """What :func:`measure` saw: every person, the memory samples, the pool size."""

    args: argparse.Namespace
    people: list[Person]
    samples: list[Sample]
    pool: int
    load_end: str
    log: Path
    server_pid: int


async def run(args, server: Server) -> tuple[list[Person], list[Sample]]:
    from tornado.httpclient import AsyncHTTPClient

    AsyncHTTPClient.configure(None, max_clients=MAX_PEOPLE + 10)
    data = Path(os.environ.get("SER_DATA", REPO.parent / "shared" / "data"))
    take = take_bytes(args.seconds, data)
    people = [Person(i + 1) for i in range(args.people)]
    samples: list[Sample] = []
    t0 = time.monotonic()
    sampler = asyncio.ensure_future(sample_memory(server, samples, args.sample, t0))
    watcher = asyncio.ensure_future(watch_freed(server.url, people, args.free_timeout))

    async def arrive(person: Person) -> None:
        await asyncio.sleep(args.arrive * (person.number - 1) / max(1, args.people - 1) if args.people > 1 else 0)
        await person_visits(server.url, person, args, take, t0)

    # Bounded in time whatever happens: arrivals, stays, one page load and one label more.
    bound = args.arrive + args.duration + args.page_timeout + args.label_timeout + args.every
    try:
        await asyncio.wait_for(asyncio.gather(*(arrive(p) for p in people)), bound)
    except asyncio.TimeoutError:
        for person in people:
            if person.kernel_id and person.closed_at is None:
                person.errors.append(f"still open after {bound:.0f} s (the run's bound)")
    # Every page is closed: wait until every kernel is freed (or given up on), and the pool is back.
    deadline = time.monotonic() + args.free_timeout + 5
    while time.monotonic() < deadline:
        if all(p.freed is not None for p in people if p.kernel_id):
            break
        await asyncio.sleep(1.0)
    await asyncio.sleep(args.sample + 1)
    sampler.cancel()
    watcher.cancel()
    return people, samples


def measure(argv=None) -> Measurement:
    """Start the dashboard server, run the people of ``argv`` (this script's arguments), stop it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10, help=f"people (at most {MAX_PEOPLE}; default 10)")
    parser.add_argument("--arrive", type=float, default=60.0, help="seconds over which they arrive (default 60)")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds each stays (default 300)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between a person's takes (default 10)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each take (default 3)")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between memory samples (default 5)")
    parser.add_argument("--page-timeout", type=float, default=120.0)
    parser.add_argument("--label-timeout", type=float, default=60.0)
    parser.add_argument("--free-timeout", type=float, default=120.0,
                        help="seconds after a page closes to wait for its kernel to go (default 120)")
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--pool", type=int, default=None, help="preheated kernels (default: config/voila.json)")
    args, server_args = parser.parse_known_args(argv)
    if args.people > MAX_PEOPLE or args.people < 1:
        parser.error(f"--people must be in 1..{MAX_PEOPLE}")
    if args.seconds <= 0 or args.every < args.seconds or args.duration <= 0:
        parser.error("need --seconds > 0, --every >= --seconds and --duration > 0")

    import tempfile

    extra = list(server_args)
    if args.pool is not None:
        extra.append(f"--VoilaConfiguration.default_pool_size={args.pool}")
    server = Server(args.notebook, extra, Path(tempfile.mkdtemp(prefix="bench-people-")))
    try:
        server.wait_listening()
        server.pool_size = pool = pool_size(args)
        status = server.wait_pool()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"dashboard with N people (headless): {server.url}, notebook {args.notebook.name}, take {UTTERANCE}")
        print(f"machine: {os.cpu_count()} CPUs, load average {load} at start (a shared machine inflates these "
              f"figures); server status {status}")
        people, samples = asyncio.run(run(args, server))
    finally:
        server.stop()
    return Measurement(args, people, samples, pool, ", ".join(f"{x:.1f}" for x in os.getloadavg()), server.log_path,
                       server.process.pid)


def main(argv=None) -> int:
    result = measure(argv)
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
