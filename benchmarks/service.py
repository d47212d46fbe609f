"""Throughput and latency of the grading service, next to `grader grade` on the same files.

Generates `--count` distinct, correct submissions and grades them with `grader grade`; starts
`grader serve` on a loopback port and uploads them from `--clients` concurrent clients, each
with its own submitter token and a callback URL served here, while probing `/healthz`; then
runs `grader grade` again, to average out drift. Prints a table to paste into the README. No
asserts: it measures.

The clients, the callback receiver and the probe share one event loop and speak HTTP/1.1 over
keep-alive connections with a few lines of code each: on a machine of two cores, a heavier
client would take the CPU the service is being measured on.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from _notebooks import generate, load_samples
from throughput import CLOCK_TICKS, _parents, _stat, print_conditions

from grader.service.layout import DataLayout
from grader.service.records import Role
from grader.service.store import Store
from grader.service.tokens import create_token

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "gradient_checking"
HEALTH_INTERVAL = 0.05  # seconds between two /healthz probes while the service is busy
DEADLINE = 1800.0  # seconds: the run gives up past this, whatever the machine


@dataclass
class Timings:
    """What the service run observed, in `time.perf_counter()` seconds."""

    first_upload: float = 0.0
    upload_started: dict[str, float] = field(default_factory=dict)  # by submission id
    upload_latency: list[float] = field(default_factory=list)
    last_accepted: float = 0.0
    refused: int = 0
    results: dict[str, float] = field(default_factory=dict)  # callback arrival, by id
    unsigned: int = 0
    not_full_marks: int = 0
    health_latency: list[float] = field(default_factory=list)
    health_failures: int = 0


class Connection:
    """One keep-alive HTTP/1.1 connection to the service."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        writer.write("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
        status, answer_headers, answer = await read_message(reader)
        if answer_headers.get("connection") == "close":
            writer.close()
            self.streams = None
        return int(status.split()[1]), answer

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


async def read_message(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """An HTTP/1.1 request or response with a Content-Length: first line, headers, body."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return head[0], headers, body


def multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, str]:
    """A form with `path` as its `file` and the text `fields`; the body and its Content-Type."""
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def upload_all(
    url: str, tokens: list[str], files: list[Path], callback: str, timings: Timings
) -> None:
    """`len(tokens)` clients upload `files` between them as fast as they are answered."""
    pending = list(reversed(files))
    timings.first_upload = time.perf_counter()

    async def client(token: str) -> None:
        connection = Connection(url)
        while pending:
            path = pending.pop()
            body, kind = multipart(path, {"student": path.stem, "callback_url": callback})
            headers = {"Authorization": f"Bearer {token}", "Content-Type": kind}
            started = time.perf_counter()
            status, answer = await connection.request(
                "POST", f"/v1/assignments/{ASSIGNMENT}/submissions", headers, body
            )
            answered = time.perf_counter()
            if status != 202:
                timings.refused += 1
                print(f"refused {path.name}: {status} {answer[:200]!r}", file=sys.stderr)
                continue
            timings.upload_latency.append(answered - started)
            timings.upload_started[json.loads(answer)["id"]] = started
            timings.last_accepted = max(timings.last_accepted, answered)
        connection.close()

    await asyncio.gather(*(client(token) for token in tokens))


async def receive_callbacks(
    secret: bytes, timings: Timings, ready: asyncio.Future[str], all_in: asyncio.Event
) -> None:
    """The LMS's end: takes callbacks, checks their signatures, notes when each arrived."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                _, headers, body = await read_message(reader)
                arrived = time.perf_counter()
                expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
                document = json.loads(body)
                timings.unsigned += headers.get("x-grader-signature") != expected
                timings.not_full_marks += document["results"]["score"] != 100.0
                timings.results.setdefault(document["id"], arrived)
                if timings.last_accepted and set(timings.upload_started) <= set(timings.results):
                    all_in.set()
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the service closed the connection, or the run is over

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    ready.set_result(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/graded")
    async with server:
        await server.serve_forever()


async def probe_health(url: str, timings: Timings, busy: asyncio.Event) -> None:
    """GET /healthz every HEALTH_INTERVAL seconds until `busy` is cleared."""
    connection = Connection(url)
    while busy.is_set():
        started = time.perf_counter()
        try:
            status, _ = await connection.request("GET", "/healthz", {})
        except (OSError, asyncio.IncompleteReadError):
            status, connection = 0, Connection(url)
        if status == 200:
            timings.health_latency.append(time.perf_counter() - started)
        else:
            timings.health_failures += 1
        await asyncio.sleep(HEALTH_INTERVAL)
    connection.close()


async def load(url: str, tokens: list[str], files: list[Path], secret: bytes) -> Timings:
    """Upload every file and wait for every callback, probing health all along."""
    timings = Timings()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    all_in, busy = asyncio.Event(), asyncio.Event()
    busy.set()
    receiver = asyncio.create_task(receive_callbacks(secret, timings, ready, all_in))
    callback = await ready
    prober = asyncio.create_task(probe_health(url, timings, busy))
    await upload_all(url, tokens, files, callback, timings)
    if set(timings.upload_started) <= set(timings.results):
        all_in.set()
    await asyncio.wait_for(all_in.wait(), DEADLINE)
    busy.clear()
    await prober
    receiver.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await receiver
    return timings


def grade_rate(folder: Path, out: Path, jobs: int | None) -> float:
    """Submissions per second of `grader grade FOLDER --out OUT`, start to exit."""
    command = [sys.executable, "-m", "grader", "grade", str(folder), "--out", str(out)]
    command += ["--jobs", str(jobs)] if jobs else []
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"`{shlex.join(command)}` failed:\n{run.stdout}{run.stderr}")
    return len(list(folder.iterdir())) / seconds


def start_service(data: Path, secret: bytes, jobs: int | None) -> tuple[subprocess.Popen, str]:
    """`grader serve` on a free port, once it answers; returns it and its base URL."""
    command = [sys.executable, "-m", "grader", "serve", "--data", str(data)]
    command += ["--port", "0", "--callback-allow", "127.0.0.1"]
    command += ["--jobs", str(jobs)] if jobs else []
    environment = {**os.environ, "GRADER_CALLBACK_SECRET": secret.decode()}
    log = data / "service.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output, env=environment)
    marker = "grader serve: listening on "  # printed once the workers are ready
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end and process.poll() is None:
        text = log.read_text(errors="replace")
        if marker in text:
            return process, text.split(marker, 1)[1].split()[0]
        time.sleep(0.05)
    sys.exit(f"the service did not start:\n{log.read_text()}")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU used so far by `pid` itself, and by its descendants (ended ones included)."""
    parents = _parents()
    tree, frontier = [], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier

    def used(process: int, fields: slice) -> float:
        values = _stat(process)[fields]
        return sum(map(int, values)) / CLOCK_TICKS if values else 0.0

    own = used(pid, slice(11, 13))
    waited = used(pid, slice(13, 15))  # children it waited for
    return own, waited + sum(used(child, slice(11, 15)) for child in tree)


def percentile(values: list[float], share: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1]


@dataclass(frozen=True)
class ServiceRun:
    """The figures of one run of the service (rates per second, latencies in ms or s)."""

    uploads_rate: float
    upload_p50: float
    upload_p95: float
    result_p50: float
    result_p95: float
    health_p95: float
    health_max: float
    grading_rate: float
    graded_during_uploads: int
    rate_after_uploads: float
    service_cpu: float  # ms per submission
    workers_cpu: float
    client_cpu: float
    summary: str  # what was accepted, refused, signed, earned


def run_service(base: Path, files: list[Path], clients: int, jobs: int | None) -> ServiceRun:
    """A fresh service on a fresh --data: upload every file, wait for every callback."""
    data = base / f"data-{secrets.token_hex(4)}"
    data.mkdir()
    store = Store(DataLayout(data).database)
    tokens = [create_token(store, Role.SUBMITTER, f"client {n}")[1] for n in range(clients)]
    store.close()
    secret = secrets.token_urlsafe(32).encode()
    process, url = start_service(data, secret, jobs)
    try:
        cpu_before = cpu_seconds(process.pid)
        client_before = time.process_time()
        timings = asyncio.run(load(url, tokens, files, secret))
        client_cpu = time.process_time() - client_before
        service_cpu, workers_cpu = (
            after - before
            for after, before in zip(cpu_seconds(process.pid), cpu_before, strict=True)
        )
    finally:
        process.terminate()
        process.wait()
    accepted = len(timings.upload_started)
    to_result = [timings.results[i] - timings.upload_started[i] for i in timings.upload_started]
    last_result = max(timings.results.values())
    during_uploads = sum(arrived <= timings.last_accepted for arrived in timings.results.values())
    return ServiceRun(
        uploads_rate=accepted / (timings.last_accepted - timings.first_upload),
        upload_p50=1000 * statistics.median(timings.upload_latency),
        upload_p95=1000 * percentile(timings.upload_latency, 95),
        result_p50=statistics.median(to_result),
        result_p95=percentile(to_result, 95),
        health_p95=1000 * percentile(timings.health_latency, 95),
        health_max=1000 * max(timings.health_latency),
        grading_rate=accepted / (last_result - timings.first_upload),
        graded_during_uploads=during_uploads,
        rate_after_uploads=(accepted - during_uploads) / (last_result - timings.last_accepted),
        service_cpu=1000 * service_cpu / accepted,
        workers_cpu=1000 * workers_cpu / accepted,
        client_cpu=1000 * client_cpu / accepted,
        summary=(
            f"accepted {accepted} of {len(files)} (refused {timings.refused}), results "
            f"{len(timings.results)}, unsigned {timings.unsigned}, without full marks "
            f"{timings.not_full_marks}, /healthz probes {len(timings.health_latency)} "
            f"(failed {timings.health_failures})"
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500, help="uploads (default: 500)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--jobs", type=int, help="workers, for both (default: all cores)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="service runs, each between two `grader grade` runs (default: 3)",
    )
    args = parser.parse_args()
    for folder in ("grader", "reference_solutions"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    load_before = os.getloadavg()[0]
    runs: list[ServiceRun] = []
    with tempfile.TemporaryDirectory(prefix="grader-service-bench-") as scratch:
        base = Path(scratch)
        files = generate(load_samples(ROOT / "submissions"), base / "batch", args.count, seed=3)
        grades = []
        for round_number in range(args.rounds + 1):
            print(f"grader grade, {args.count} files…", file=sys.stderr)
            grades.append(grade_rate(base / "batch", base / f"out-{round_number}", args.jobs))
            if round_number < args.rounds:
                print(f"service, {args.count} uploads, {args.clients} clients…", file=sys.stderr)
                runs.append(run_service(base, files, args.clients, args.jobs))
    ratios = [run.grading_rate / statistics.mean(grades[n : n + 2]) for n, run in enumerate(runs)]

    def figure(values: list[float], form: str) -> str:
        shown = ", ".join(form.format(value) for value in values)
        return f"{form.format(statistics.median(values))} ({shown})"

    def of(name: str) -> list[float]:
        return [getattr(run, name) for run in runs]

    rows = [
        ("uploads accepted per second", figure(of("uploads_rate"), "{:.0f}")),
        ("upload latency p50 (ms)", figure(of("upload_p50"), "{:.0f}")),
        ("upload latency p95 (ms)", figure(of("upload_p95"), "{:.0f}")),
        ("upload to result (callback received) p50 (s)", figure(of("result_p50"), "{:.2f}")),
        ("upload to result (callback received) p95 (s)", figure(of("result_p95"), "{:.2f}")),
        ("`/healthz` p95 while busy (ms)", figure(of("health_p95"), "{:.1f}")),
        ("`/healthz` slowest while busy (ms)", figure(of("health_max"), "{:.0f}")),
        ("grading rate, first upload to last result (/s)", figure(of("grading_rate"), "{:.1f}")),
        ("`grader grade` on the same files (/s)", figure(grades, "{:.1f}")),
        ("service ÷ `grader grade` (each run ÷ the two around it)", figure(ratios, "{:.2f}×")),
        (
            "graded while uploads came in (of the batch)",
            figure(of("graded_during_uploads"), "{:.0f}"),
        ),
        ("grading rate after the last upload (/s)", figure(of("rate_after_uploads"), "{:.1f}")),
        ("CPU per submission, service (ms)", figure(of("service_cpu"), "{:.1f}")),
        ("CPU per submission, its sandbox workers (ms)", figure(of("workers_cpu"), "{:.1f}")),
        ("CPU per submission, this benchmark's clients (ms)", figure(of("client_cpu"), "{:.1f}")),
    ]
    executable = os.path.relpath(sys.executable, Path.cwd())
    command = [executable, "benchmarks/service.py", "--count", str(args.count)]
    command += ["--clients", str(args.clients), "--rounds", str(args.rounds)]
    command += ["--jobs", str(args.jobs)] if args.jobs else []
    print("| figure | median (each run) |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print()
    for number, run in enumerate(runs, 1):
        print(f"run {number}: {run.summary}")
    print_conditions(args.jobs, command, load_before)


if __name__ == "__main__":
    main()
