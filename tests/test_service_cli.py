"""`serve` and `token` as an operator runs them: tokens printed once and stored hashed, revoked
at once in a running service; a configuration that cannot work is refused before it starts."""

from __future__ import annotations

import os
import socket
import subprocess

from tests.service_support import ServiceProcess, create_token, service_command


def run(*args: str, secret: str | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "GRADER_CALLBACK_SECRET"}
    if secret is not None:
        environment["GRADER_CALLBACK_SECRET"] = secret
    return subprocess.run(
        service_command(*args), capture_output=True, text=True, timeout=120, env=environment
    )


def test_a_token_is_printed_alone_and_stored_only_as_a_hash(tmp_path):
    created = run(
        "token", "create", "--data", str(tmp_path), "--role", "instructor", "--name", "Dr Who"
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert created.stdout == secret + "\n" and secret.startswith("grader_") and len(secret) > 40
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("grader.db*"))
    assert secret.encode() not in stored
    listed = run("token", "list", "--data", str(tmp_path))
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["id", "role", "name", "created", "state"]
    assert "instructor" in row and "Dr Who" in row and row.endswith("active")
    assert secret not in listed.stdout


def test_a_revoked_token_is_refused_by_the_running_service(tmp_path):
    data = tmp_path / "data"
    secret = create_token(data, "submitter")
    token_id = run("token", "list", "--data", str(data)).stdout.splitlines()[1].split()[0]
    service = ServiceProcess(data, tmp_path / "service.log", "--jobs", "1")
    try:
        with service.client(secret) as client:
            assert client.get("/v1/assignments").status_code == 200
            revoked = run("token", "revoke", "--data", str(data), token_id)
            assert revoked.returncode == 0, revoked.stderr
            refused = client.get("/v1/assignments")
            assert refused.status_code == 401 and refused.json()["error"] == "unknown_token"
    finally:
        service.stop()
    assert service.process.returncode == 0
    again = run("token", "revoke", "--data", str(data), token_id)
    assert again.returncode == 1 and "no active token" in again.stderr
    listed = run("token", "list", "--data", str(data)).stdout
    assert "revoked" in listed.splitlines()[1]


def test_token_commands_on_a_folder_without_a_database_say_so(tmp_path):
    for action in (("list",), ("revoke", "abcd1234")):
        answer = run("token", *action, "--data", str(tmp_path / "nothing"))
        assert answer.returncode == 2 and "no service database" in answer.stderr
    assert not (tmp_path / "nothing").exists()


def test_serve_refuses_a_configuration_that_cannot_work(tmp_path):
    data = str(tmp_path / "data")
    unsigned = run("serve", "--data", data, "--callback-allow", "lms.example.edu")
    assert unsigned.returncode == 2 and "GRADER_CALLBACK_SECRET" in unsigned.stderr
    bad_host = run("serve", "--data", data, "--callback-allow", "http://x/y", secret="s")
    assert bad_host.returncode == 2 and "host or host:port" in bad_host.stderr
    missing = run("serve", "--data", data, "--assignment", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "assignment" in missing.stderr
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        busy = run("serve", "--data", data, "--port", port)
    assert busy.returncode == 2 and "cannot listen" in busy.stderr
    for answer in (unsigned, bad_host, missing, busy):
        assert "Traceback" not in answer.stderr
