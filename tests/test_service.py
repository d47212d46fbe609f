"""The grading service as an LMS uses it: real HTTP to uvicorn on a loopback port, a real SQLite
file, real sandbox workers and a real callback receiver."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from grader.service.records import CallbackState, Role
from grader.service.settings import RetrySchedule, Settings
from grader.service.tokens import create_token
from tests.conftest import CORRECT, FORWARD, notebook
from tests.service_support import (
    HANGING,
    ROOT,
    SECRET,
    CallbackReceiver,
    InProcessService,
    correct_notebook,
    upload,
    wait_done,
    wait_for,
)

MAX_UPLOAD = 256 * 1024
# Everything but the fields that name the file and the time of grading.
NAMING_FIELDS = ("submission", "source", "graded_at")


class Tokens:
    def __init__(self, running: InProcessService) -> None:
        store = running.service.store
        self.instructor = create_token(store, Role.INSTRUCTOR, "staff")[1]
        self.lms = create_token(store, Role.SUBMITTER, "lms")[1]
        self.other_lms = create_token(store, Role.SUBMITTER, "another lms")[1]


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessService]:
    settings = Settings(
        data=tmp_path_factory.mktemp("service"),
        jobs=1,
        callback_allow=("127.0.0.1",),
        callback_secret=SECRET,
        max_upload=MAX_UPLOAD,
        retry=RetrySchedule(attempts=5, first_delay=0.2),
    )
    running = InProcessService(settings)
    yield running
    running.close()


@pytest.fixture(scope="module")
def tokens(running: InProcessService) -> Tokens:
    return Tokens(running)


@pytest.fixture(scope="module")
def lms(running: InProcessService, tokens: Tokens) -> Iterator[httpx.Client]:
    with running.client(tokens.lms) as client:
        yield client


@pytest.fixture(scope="module")
def instructor(running: InProcessService, tokens: Tokens) -> Iterator[httpx.Client]:
    with running.client(tokens.instructor) as client:
        yield client


def test_health_and_the_api_description_need_no_token(running):
    with running.client() as anonymous:
        health = anonymous.get("/healthz")
        assert health.status_code == 200
        assert health.json()["assignments"] == ["gradient_checking"]
        paths = anonymous.get("/openapi.json").json()["paths"]
        assert "/v1/assignments/{assignment}/submissions" in paths
        assert anonymous.get("/docs").status_code == 200


def test_every_v1_request_needs_a_live_token(running, tokens):
    with running.client() as anonymous:
        missing = upload(anonymous, correct_notebook("no token"))
    with running.client("grader_not-a-token") as stranger:
        unknown = stranger.get("/v1/assignments")
    secret = create_token(running.service.store, Role.SUBMITTER, "to revoke")
    running.service.store.revoke_token(secret[0].id, "2026-01-01T00:00:00+00:00")
    with running.client(secret[1]) as revoked_client:
        revoked = revoked_client.get("/v1/assignments")
    for response, code in ((missing, "missing_token"), (unknown, "unknown_token")):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"] == code
        assert "grader token create" in response.json()["message"] or "operator" in response.text
    assert revoked.status_code == 401


def test_uploads_are_graded_as_grader_grade_grades_the_same_files(running, lms, tmp_path):
    samples = sorted(
        path for path in (ROOT / "submissions").iterdir() if path.stem != "broken_upload"
    )
    accepted = {}
    for path in samples:
        response = upload(lms, path.read_bytes(), path.name, student=path.stem)
        assert response.status_code == 202, response.text
        body = response.json()
        assert body == {
            "id": body["id"],
            "status": "queued",
            "assignment": "gradient_checking",
            "student": path.stem,
            "lang": "en",
        }
        assert response.headers["Location"] == f"/v1/submissions/{body['id']}"
        accepted[path] = body["id"]
    batch = subprocess.run(
        [sys.executable, "-m", "grader", "grade", *map(str, samples), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert batch.returncode == 0, batch.stderr
    for path, submission_id in accepted.items():
        document = wait_done(lms, submission_id)
        assert document["student"] == path.stem
        served = document["results"]
        expected = json.loads((tmp_path / path.stem / "results.json").read_text())
        assert served["submission"] == submission_id and served["source"] == path.name
        for field in NAMING_FIELDS:
            del served[field], expected[field]
        assert served == expected, path.name
        report = lms.get(f"/v1/submissions/{submission_id}/report")
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in report.headers["Content-Security-Policy"]
        assert "<script" not in report.text.lower()


def test_the_same_bytes_for_the_same_student_are_graded_once(lms):
    content = correct_notebook("uploaded twice")
    first = upload(lms, content, student="ada")
    assert first.status_code == 202
    graded = wait_done(lms, first.json()["id"])
    again = upload(lms, content, student="ada")
    assert again.status_code in (200, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "done"
    assert lms.get(f"/v1/submissions/{first.json()['id']}").json() == graded
    other_student = upload(lms, content, student="grace")
    assert other_student.status_code == 202
    assert other_student.json()["id"] != first.json()["id"]


def test_the_same_upload_sent_at_once_by_many_clients_is_one_submission(running, tokens):
    content = correct_notebook("sent at once")

    def send(_: int) -> httpx.Response:
        with running.client(tokens.lms) as client:
            return upload(client, content, student="kim")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert len({answer.json()["id"] for answer in answers}) == 1
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(202) == 1 and statuses.count(200) == len(answers) - 1


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("hw.ipynb.txt", correct_notebook("saved as text")),
        ("submission", correct_notebook("no suffix")),
        ("gradient_checking.py", (ROOT / "submissions" / "ivan_petrov.py").read_bytes()),
    ],
)
def test_a_file_is_read_by_its_name_as_grader_grade_reads_it(lms, filename, content):
    response = upload(lms, content, filename)
    assert response.status_code == 202, response.text
    results = wait_done(lms, response.json()["id"])["results"]
    assert results["source"] == filename and results["score"] == 100.0


def test_a_submitter_sees_only_what_it_uploaded(running, tokens, lms, instructor):
    mine = upload(lms, correct_notebook("private"), student="lin").json()["id"]
    wait_done(lms, mine)
    with running.client(tokens.other_lms) as other:
        for path in (f"/v1/submissions/{mine}", f"/v1/submissions/{mine}/report"):
            response = other.get(path)
            assert response.status_code == 404
            assert response.json()["error"] == "unknown_submission"
        gradebook = other.get("/v1/assignments/gradient_checking/gradebook.csv")
        assert gradebook.status_code == 403
        assert gradebook.json()["error"] == "instructors_only"
        assert lms.get("/v1/assignments/gradient_checking/gradebook.csv").status_code == 403
    assert instructor.get(f"/v1/submissions/{mine}").json()["status"] == "done"
    assert instructor.get(f"/v1/submissions/{mine}/report").status_code == 200


def test_the_gradebook_holds_the_latest_graded_upload_per_student(lms, instructor):
    wrong = notebook(FORWARD.replace("theta * x", "theta + x"), *CORRECT[2:])
    first = upload(lms, wrong.encode(), student="carol").json()["id"]
    wait_done(lms, first)
    second = upload(lms, correct_notebook("carol's fix"), student="carol").json()["id"]
    wait_done(lms, second)
    formula = upload(lms, correct_notebook("formula"), student="=HYPERLINK(1)").json()["id"]
    wait_done(lms, formula)
    response = instructor.get("/v1/assignments/gradient_checking/gradebook.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    carol = [row for row in rows if row["student"] == "carol"]
    assert len(carol) == 1
    assert carol[0]["submission"] == second and float(carol[0]["score"]) == 100.0
    assert carol[0]["forward_propagation"] == "10.0"
    assert any(row["student"] == "'=HYPERLINK(1)" for row in rows)
    assert instructor.get("/v1/assignments/nope/gradebook.csv").status_code == 404


def _multipart(body: bytes, boundary: str = "b0undary") -> tuple[bytes, dict[str, str]]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="n.ipynb"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    return head + body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _huge_stream() -> Iterator[bytes]:
    """A form sent without Content-Length, whose file never ends: only a counting read stops it."""
    head, _ = _multipart(b"")
    yield head
    for _ in range(10_000):  # 640 MiB, should the service read it all
        yield b"x" * 65536


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("empty", 422, "unreadable_file"),
        ("binary", 422, "unreadable_file"),
        ("truncated", 422, "unreadable_file"),
        ("not_a_notebook", 422, "unreadable_file"),
        ("not_multipart", 415, "not_multipart"),
        ("no_file_field", 422, "missing_file"),
        ("form_cut_short", 422, "malformed_form"),
        ("over_the_limit", 413, "upload_too_large"),
        ("over_the_limit_streamed", 413, "upload_too_large"),
        ("unknown_assignment", 404, "unknown_assignment"),
        ("control_characters_in_student", 422, "invalid_student"),
    ],
)
def test_bad_input_gets_a_clear_4xx(lms, case, status, code):
    path = "/v1/assignments/gradient_checking/submissions"
    complete = correct_notebook("complete").decode()
    if case == "empty":
        response = upload(lms, b"")
    elif case == "binary":
        response = upload(lms, b"\x89PNG\r\n\x1a\n\0\0\0" * 50, "n.ipynb")
    elif case == "truncated":
        response = upload(lms, complete[: len(complete) // 2].encode())
    elif case == "not_a_notebook":
        response = upload(lms, b'{"just": "json"}')
    elif case == "not_multipart":
        response = lms.post(path, content=complete, headers={"Content-Type": "application/json"})
    elif case == "no_file_field":
        response = lms.post(path, data={"student": "x"}, files={"other": ("a", b"b")})
    elif case == "form_cut_short":
        body, headers = _multipart(complete.encode())
        response = lms.post(path, content=body, headers=headers)
    elif case == "over_the_limit":
        response = upload(lms, b" " * (MAX_UPLOAD + 1) + complete.encode())
    elif case == "over_the_limit_streamed":
        _, headers = _multipart(b"")
        response = lms.post(path, content=_huge_stream(), headers=headers)
    elif case == "unknown_assignment":
        response = upload(lms, complete.encode(), assignment="nope")
    else:
        response = upload(lms, complete.encode(), student="bob\x1b[31m")
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert len(response.json()["message"]) > 20  # it says what to do
    assert lms.get("/healthz").status_code == 200


def test_a_submission_still_grades_after_a_burst_of_bad_input(lms):
    for junk in (b"", b"\0" * 1000, b"{", b"[]", b"not json"):
        assert upload(lms, junk).status_code == 422
    good = upload(lms, correct_notebook("after the junk"), student="eve").json()["id"]
    assert wait_done(lms, good)["results"]["score"] == 100.0


def test_unknown_submission_and_report_before_grading(lms):
    unknown = lms.get("/v1/submissions/0000000000000000")
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_submission"
    assert lms.get("/v1/nothing").json()["error"] == "not_found"


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://metadata.google.internal/computeMetadata",
        "file:///etc/passwd",
        "http://user:password@127.0.0.1/hook",
        "gopher://127.0.0.1/",
    ],
)
def test_a_callback_goes_only_to_an_allowed_host(lms, url):
    response = upload(lms, correct_notebook(url), callback_url=url)
    assert response.status_code == 422
    assert response.json()["error"] == "callback_not_allowed"


def test_a_callback_is_signed_and_holds_what_get_answers(lms, receiver):
    response = upload(
        lms, correct_notebook("called back"), student="dan", callback_url=receiver.url("/dan")
    )
    assert response.status_code == 202
    delivery = wait_for(lambda: receiver.received("/dan"), "the callback")[0]
    assert delivery.signed
    document = json.loads(delivery.body)
    assert document == lms.get(f"/v1/submissions/{response.json()['id']}").json()
    assert document["status"] == "done" and document["results"]["score"] == 100.0


def test_a_failing_callback_is_tried_again_with_backoff(running, lms, receiver):
    receiver.failures["/flaky"] = 2
    response = upload(lms, correct_notebook("flaky"), callback_url=receiver.url("/flaky"))
    delivery = wait_for(lambda: receiver.received("/flaky"), "the third attempt")[0]
    assert delivery.signed
    state = running.service.store.callback_states(response.json()["id"])
    assert state == {receiver.url("/flaky"): (CallbackState.DELIVERED, 3)}


def test_a_callback_that_always_fails_is_abandoned_after_its_tries(running, lms, receiver):
    receiver.failures["/down"] = 1000
    submission_id = upload(
        lms, correct_notebook("down"), callback_url=receiver.url("/down")
    ).json()["id"]
    states = running.service.store.callback_states

    def abandoned() -> bool:
        return states(submission_id)[receiver.url("/down")][0] is CallbackState.ABANDONED

    wait_for(abandoned, "the callback to be abandoned")
    assert receiver.attempts["/down"] == 5  # the schedule's attempts, no more


def test_a_pending_callback_to_a_host_no_longer_allowed_is_not_sent_again(tmp_path, receiver):
    receiver.failures["/revoked-host"] = 1_000_000
    allowed = Settings(data=tmp_path, jobs=1, callback_allow=("127.0.0.1",), callback_secret=SECRET)
    first = InProcessService(allowed)
    try:
        _, secret = create_token(first.service.store, Role.SUBMITTER)
        with first.client(secret) as client:
            url = receiver.url("/revoked-host")
            submission_id = upload(client, correct_notebook("moved"), callback_url=url).json()["id"]
        wait_for(lambda: receiver.attempts.get("/revoked-host"), "a first, refused, attempt")
    finally:
        first.close()
    attempts = receiver.attempts["/revoked-host"]
    receiver.failures["/revoked-host"] = 0
    second = InProcessService(Settings(data=tmp_path, jobs=1, callback_secret=SECRET))
    try:
        states = second.service.store.callback_states

        def abandoned() -> bool:
            return states(submission_id)[url][0] is CallbackState.ABANDONED

        wait_for(abandoned, "the callback to be abandoned")
    finally:
        second.close()
    assert receiver.attempts["/revoked-host"] == attempts and not receiver.received("/revoked-host")


def test_uploading_again_with_a_new_callback_url_calls_it(lms, receiver):
    content = correct_notebook("called back twice")
    first = upload(lms, content, student="fay").json()["id"]
    wait_done(lms, first)
    again = upload(lms, content, student="fay", callback_url=receiver.url("/fay"))
    assert again.json()["id"] == first
    delivery = wait_for(lambda: receiver.received("/fay"), "the callback")[0]
    assert json.loads(delivery.body)["id"] == first


def test_health_and_uploads_are_answered_while_every_worker_is_busy(running, lms):
    hanging = upload(lms, HANGING.encode(), student="hal").json()["id"]

    def status() -> str:
        return lms.get(f"/v1/submissions/{hanging}").json()["status"]

    wait_for(lambda: status() == "running", "the hanging submission to run")
    # The only worker runs the hanging notebook, for two time limits: these are answered now.
    assert lms.get("/healthz").status_code == 200
    queued = upload(lms, correct_notebook("while busy"), student="ivy")
    assert queued.status_code == 202
    assert status() == "running"
    results = wait_done(lms, hanging)["results"]
    assert results["functions"]["forward_propagation"]["status"] == "timeout"
    assert results["functions"]["gradient_check"]["status"] == "passed"
    assert wait_done(lms, queued.json()["id"])["results"]["score"] == 100.0


@pytest.fixture
def idle(tmp_path: Path) -> Iterator[InProcessService]:
    """A service that answers HTTP but never started its workers, so it accepts no work."""
    running = InProcessService(Settings(data=tmp_path, rate=1.0, burst=3), start=False)
    yield running
    running.close()


def test_a_token_over_its_rate_gets_429_with_retry_after(idle):
    _, secret = create_token(idle.service.store, Role.SUBMITTER)
    with idle.client(secret) as client:
        answers = [client.get("/v1/submissions/0000000000000000") for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [404, 404, 404]
    assert answers[3].status_code == 429
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert answers[3].json()["error"] == "rate_limited"


def test_health_says_503_when_the_service_takes_no_work(idle):
    _, secret = create_token(idle.service.store, Role.SUBMITTER)
    with idle.client(secret) as client:
        assert client.get("/healthz").status_code == 503
        refused = upload(client, correct_notebook("too early"))
    assert refused.status_code == 503 and refused.json()["error"] == "stopping"
