"""Callbacks: when a submission is done, POST its document, signed, to the URL it was uploaded with.

Deliveries live in their own table, so a pending one survives a restart; failures are retried
with exponential backoff. Only hosts the operator allowed are ever called, so the service
cannot be made to reach an internal host.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx

import grader
from grader.service.records import Callback
from grader.service.settings import RetrySchedule
from grader.service.store import Store

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Grader-Signature"
SECRET_VARIABLE = "GRADER_CALLBACK_SECRET"
MAX_URL_CHARS = 2000
DELIVERY_THREADS = 4
DELIVERY_TIMEOUT_SECONDS = 10.0


def signature(secret: bytes, body: bytes) -> str:
    """The value of the signature header: what a receiver recomputes to trust a body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def encode(document: dict[str, Any]) -> bytes:
    """The exact bytes sent, and signed: the same for a callback and for a GET."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class CallbackPolicy:
    """Which URLs may be called: http(s) on a host (or host:port) the operator allowed."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.hosts: set[str] = set()
        self.host_ports: set[tuple[str, int]] = set()
        for entry in allowed:
            parts = urlsplit("//" + entry.strip())
            if not parts.hostname or parts.path or parts.username or parts.query:
                raise ValueError(f"--callback-allow takes a host or host:port, not {entry!r}")
            if parts.port is None:
                self.hosts.add(parts.hostname)
            else:
                self.host_ports.add((parts.hostname, parts.port))

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be called, or None if it may."""
        if len(url) > MAX_URL_CHARS:
            return f"callback_url is over {MAX_URL_CHARS} characters."
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "callback_url is not a valid URL."
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "callback_url must be an http:// or https:// URL."
        if parts.username or parts.password:
            return "callback_url must not carry a user name or password."
        if parts.hostname in self.hosts or (parts.hostname, port) in self.host_ports:
            return None
        return (
            f"callback_url's host {parts.hostname!r} is not allowed: the service calls back only "
            "hosts its operator allowed (grader serve --callback-allow HOST). Poll "
            "GET /v1/submissions/{id} instead, or ask the operator to allow the host."
        )


class CallbackDispatcher:
    """Delivers callbacks: those of a submission just graded at once, with the document the
    grading made; those the table holds (retries, and any left by a stop) as they fall due."""

    def __init__(
        self,
        store: Store,
        document: Callable[[str], dict[str, Any]],
        secret: bytes,
        policy: CallbackPolicy,
        schedule: RetrySchedule,
    ) -> None:
        self.store, self.document, self.secret = store, document, secret
        self.policy, self.schedule = policy, schedule
        self._client = httpx.Client(
            timeout=DELIVERY_TIMEOUT_SECONDS,
            follow_redirects=False,  # a redirect could lead to a host that is not allowed
            headers={"User-Agent": f"grader/{grader.__version__}"},
            trust_env=False,
        )
        self._executor = ThreadPoolExecutor(DELIVERY_THREADS, thread_name_prefix="callback")
        self._lock = threading.Condition()
        self._in_flight: set[int] = set()
        self._settled = 0  # deliveries ended: a list of due callbacks read before is stale
        self._changes = 0  # reasons to look at the table again
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """A callback in the table may have become due."""
        with self._lock:
            self._changes += 1
            self._lock.notify()

    def send(self, callbacks: list[Callback], document: dict[str, Any]) -> None:
        """Deliver callbacks that are due now, with their submission's document."""
        with self._lock:
            for callback in callbacks:
                if callback.seq not in self._in_flight and not self._stopping:
                    self._in_flight.add(callback.seq)
                    self._executor.submit(self._deliver, callback, document)

    def stop(self) -> None:
        """Stop taking deliveries; those in flight finish (the table keeps the others due)."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._thread.join()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _loop(self) -> None:
        room = 2 * DELIVERY_THREADS  # deliveries from the table handed to the threads at a time
        while True:
            with self._lock:
                if self._stopping:
                    return
                changes, settled, flying = self._changes, self._settled, len(self._in_flight)
            now = time.time()
            due = self.store.due_callbacks(now, room) if flying < room else []
            next_due = self.store.next_callback_due()
            with self._lock:
                if self._settled != settled:  # one may have been delivered since it was read
                    continue
                for callback in due:
                    if callback.seq not in self._in_flight:
                        self._in_flight.add(callback.seq)
                        self._executor.submit(self._deliver, callback, None)
                if self._changes == changes and not self._stopping:
                    self._lock.wait(_wait_seconds(now, next_due))

    def _deliver(self, callback: Callback, document: dict[str, Any] | None) -> None:
        retry = False
        try:
            refusal = self.policy.refusal(callback.url)
            if refusal is not None:  # allowed at upload, no longer by the operator
                self.store.callback_failed(callback.seq, refusal, None)
                logger.warning("callback for %s abandoned: %s", callback.submission_id, refusal)
                return
            body = encode(document or self.document(callback.submission_id))
            error = self._post(callback.url, body)
            if error is None:
                self.store.callback_delivered(callback.seq)
                return
            delay = self.schedule.delay(callback.attempts + 1)
            retry = delay is not None
            self.store.callback_failed(callback.seq, error, time.time() + delay if retry else None)
            logger.warning(
                "callback %d for %s failed (%s)%s",
                callback.attempts + 1,
                callback.submission_id,
                error,
                f"; next try in {delay:g} s" if retry else "; no try is left",
            )
        except Exception:  # the table keeps it due: the loop tries it again within seconds
            logger.exception("callback for %s could not be handled", callback.submission_id)
        finally:
            with self._lock:
                self._in_flight.discard(callback.seq)
                self._settled += 1
                if retry or document is None:  # a retry to schedule, or room for the table's
                    self._changes += 1
                    self._lock.notify()

    def _post(self, url: str, body: bytes) -> str | None:
        """Send one attempt; None if the receiver took it (any 2xx), else what went wrong."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self.secret, body),
        }
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as problem:
            return f"{type(problem).__name__}: {problem}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"


def _wait_seconds(now: float, next_due: float | None) -> float:
    """How long the loop may sleep. A callback already due is being delivered: its end wakes
    the loop if it must (a retry, room for more), so only a bound is kept then."""
    if next_due is None:
        return 60.0
    if next_due <= now:
        return 5.0
    return min(60.0, next_due - now)
