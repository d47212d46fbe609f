"""Real parts for the service's tests: the service under uvicorn on a loopback port (in this
process, or as `grader serve`), a callback receiver that checks signatures,
and polling with deadlines generous enough for a machine three times slower than this one."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from grader.service.app import create_app
from grader.service.server import bind
from grader.service.service import Service
from grader.service.settings import Settings
from tests.conftest import BACKWARD, CORRECT, FORWARD, notebook

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"a secret the tests share with the service"
DEADLINE = 240.0  # seconds: a bound for a hang, never an expectation of speed
T = TypeVar("T")

# A notebook whose two first functions never return: it keeps a worker busy for two time limits.
HANGING = notebook(
    FORWARD.replace("J = theta * x", "while True:\n        pass"),
    BACKWARD.replace("dtheta = x", "while True:\n        pass"),
    *CORRECT[3:],
)


def correct_notebook(note: str) -> bytes:
    """A notebook that earns full marks; `note` makes its bytes unique."""
    return notebook(f"# {note}", *CORRECT).encode()


def wait_for(condition: Callable[[], T | None], what: str, deadline: float = DEADLINE) -> T:
    """Poll `condition` until it returns something true, and return that."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def upload(
    client: httpx.Client,
    content: bytes,
    filename: str = "notebook.ipynb",
    assignment: str = "gradient_checking",
    **fields: str,
) -> httpx.Response:
    return client.post(
        f"/v1/assignments/{assignment}/submissions",
        files={"file": (filename, content, "application/x-ipynb+json")},
        data=fields,
    )


def wait_done(client: httpx.Client, submission_id: str) -> dict[str, Any]:
    """The submission's document once it is done."""

    def done() -> dict[str, Any] | None:
        document = client.get(f"/v1/submissions/{submission_id}").json()
        return document if document["status"] == "done" else None

    return wait_for(done, f"submission {submission_id} to be graded")


class InProcessService:
    """A `Service` and uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, settings: Settings, start: bool = True) -> None:
        self.service = Service(settings)
        self.started = start
        if start:
            self.service.start()
        listener = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        config = uvicorn.Config(create_app(self.service), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [listener]}, daemon=True
        )
        self.thread.start()
        wait_for(lambda: self.server.started, "the server to start")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join()
        if self.started:
            self.service.stop()
        else:
            self.service.store.close()


@dataclass(frozen=True)
class Delivery:
    path: str
    body: bytes
    signed: bool  # the signature header matched the body


class CallbackReceiver:
    """An HTTP server on a loopback port that records callbacks and checks their signatures.

    `failures[path]` answers that many attempts at `path` with 503 before taking one."""

    def __init__(self, secret: bytes = SECRET) -> None:
        self.deliveries: list[Delivery] = []
        self.failures: dict[str, int] = {}
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(self.headers.get("X-Grader-Signature", ""), expected)
                with receiver.lock:
                    receiver.attempts[self.path] = receiver.attempts.get(self.path, 0) + 1
                    failing = receiver.failures.get(self.path, 0)
                    if failing:
                        receiver.failures[self.path] = failing - 1
                    else:
                        receiver.deliveries.append(Delivery(self.path, body, signed))
                self.send_response(503 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def received(self, path: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def service_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "grader", *args]


def create_token(data: Path, role: str) -> str:
    run = subprocess.run(
        service_command("token", "create", "--data", str(data), "--role", role),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return run.stdout.strip()


class ServiceProcess:
    """`grader serve` on a free loopback port, its log in a file."""

    def __init__(self, data: Path, log: Path, *args: str) -> None:
        self.log = log
        environment = {**os.environ, "GRADER_CALLBACK_SECRET": SECRET.decode()}
        command = service_command("serve", "--data", str(data), "--port", "0", *args)
        with log.open("ab") as output:
            start = output.tell()  # a restart appends to the same log
            self.process = subprocess.Popen(
                command, stdout=output, stderr=output, env=environment, cwd=ROOT
            )
        marker = "grader serve: listening on "

        def address() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited:\n{log.read_text()}")
            lines = log.read_bytes()[start:].decode().splitlines()
            return next((line.split(marker)[1] for line in lines if marker in line), None)

        try:
            self.url = wait_for(address, "the service to listen")
            wait_for(self._healthy, "the service to answer /healthz")
        except BaseException:
            self.stop()
            raise

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=10).status_code == 200
        except httpx.TransportError:
            return False

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def children(self) -> list[int]:
        """The pids of the service's child processes: its sandbox workers."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rpartition(")")[2].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
