"""Nothing accepted is lost: `grader serve` killed with SIGKILL mid-batch,
then restarted on the same --data, finishes every submission it acknowledged, each once."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service_support import (
    HANGING,
    CallbackReceiver,
    ServiceProcess,
    correct_notebook,
    create_token,
    upload,
    wait_done,
    wait_for,
)

SERVE_OPTIONS = ("--jobs", "1", "--callback-allow", "127.0.0.1")
UPLOADERS = 3


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie has ended: only its exit status is left to collect)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _results(data: Path) -> dict[str, bytes]:
    folder = data / "reports" / "gradient_checking"
    return {path.parent.name: path.read_bytes() for path in folder.glob("*/results.json")}


def test_a_kill_9_mid_batch_loses_no_accepted_upload_and_grades_each_once(tmp_path, receiver):
    data, log = tmp_path / "data", tmp_path / "service.log"
    token = create_token(data, "submitter")
    service = ServiceProcess(data, log, *SERVE_OPTIONS)
    accepted: dict[str, str] = {}  # submission id: the path its callback goes to
    stopping = threading.Event()

    def keep_uploading(uploader: int) -> None:
        with service.client(token) as client:
            for n in itertools.count():
                path = f"/u{uploader}-{n}"
                try:
                    response = upload(
                        client,
                        correct_notebook(path),
                        student=f"student{uploader}-{n}",
                        callback_url=receiver.url(path),
                    )
                except httpx.TransportError:
                    return  # the service died under this upload: it was never acknowledged
                assert response.status_code == 202, response.text
                accepted[response.json()["id"]] = path
                if stopping.is_set():
                    return

    # Some submissions are graded; then one that hangs keeps the only worker busy while
    # uploads pile up behind it, and the kill comes with uploads in flight.
    with service.client(token) as client:
        for n in range(3):
            early = upload(client, correct_notebook(f"early {n}"), student=f"early{n}")
            wait_done(client, early.json()["id"])
        hanging = upload(client, HANGING.encode(), student="hal").json()["id"]
        status = f"/v1/submissions/{hanging}"
        wait_for(lambda: client.get(status).json()["status"] == "running", "the hang to run")
    uploaders = [
        threading.Thread(target=keep_uploading, args=(n,), daemon=True) for n in range(UPLOADERS)
    ]
    for thread in uploaders:
        thread.start()
    wait_for(lambda: len(accepted) >= 12, "uploads to pile up")
    workers = service.children()
    assert workers, "the service has sandbox workers"
    os.kill(service.process.pid, signal.SIGKILL)
    service.process.wait()
    stopping.set()
    for thread in uploaders:
        thread.join()
    before = _results(data)
    assert len(before) >= 3 and hanging not in before
    wait_for(lambda: not any(map(_alive, workers)), "the killed service's workers to exit")

    restarted = ServiceProcess(data, log, *SERVE_OPTIONS)
    try:
        with restarted.client(token) as client:
            for submission_id in accepted:
                assert wait_done(client, submission_id)["results"]["score"] == 100.0
            hung = wait_done(client, hanging)["results"]["functions"]
            assert hung["forward_propagation"]["status"] == "timeout"
        after = _results(data)
        for path in accepted.values():
            wait_for(lambda path=path: receiver.received(path), f"the callback to {path}")
    finally:
        restarted.stop()
    assert restarted.process.returncode == 0
    # Graded once: what was written before the kill was kept, and no submission was graded
    # twice (the service logs each grading).
    assert all(after[key] == content for key, content in before.items())
    graded = Counter(re.findall(r"graded ([0-9a-f]{16}) ", log.read_text()))
    assert max(graded.values()) == 1
    assert set(accepted) <= set(after)
    for path in accepted.values():
        for delivery in receiver.received(path):
            assert delivery.signed and json.loads(delivery.body)["status"] == "done"


def test_a_pending_callback_survives_a_restart(tmp_path, receiver):
    data, log = tmp_path / "data", tmp_path / "service.log"
    token = create_token(data, "submitter")
    receiver.failures["/later"] = 1_000_000  # the LMS is down
    service = ServiceProcess(data, log, *SERVE_OPTIONS)
    with service.client(token) as client:
        response = upload(client, correct_notebook("later"), callback_url=receiver.url("/later"))
        assert response.status_code == 202
    wait_for(lambda: receiver.attempts.get("/later"), "a first, refused, attempt")
    os.kill(service.process.pid, signal.SIGKILL)
    service.process.wait()
    receiver.failures["/later"] = 0  # the LMS is back
    restarted = ServiceProcess(data, log, *SERVE_OPTIONS)
    try:
        delivery = wait_for(lambda: receiver.received("/later"), "the callback after restart")[0]
    finally:
        restarted.stop()
    assert delivery.signed
    document = json.loads(delivery.body)
    assert document["id"] == response.json()["id"] and document["status"] == "done"
