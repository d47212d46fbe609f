"""The Dask executor: the same submissions, graded by the same sandbox, elsewhere.

The client (`grader grade --cluster`) reads, resumes and writes exactly as a local run does;
only `Executor.grade` differs. Each Dask worker starts the grader's own sandbox once, from a
worker plugin that carries the assignment folder as bytes, so no filesystem is shared: tasks
carry batches of read submissions (their code cells, not paths) and bring back their results.
A batch whose worker dies is run again by Dask on another worker; its results reach the
client once, from the run that finished, so nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin, get_worker

from grader.cluster import ClusterUnavailable
from grader.grade import grader_sources_hash
from grader.i18n import ENGLISH, language
from grader.pipeline import grade_one
from grader.read import Submission
from grader.run import sandbox_setup
from grader.sandbox.pool import SandboxUnavailable, WorkerPool
from grader.score import SubmissionResult
from grader.spec import Assignment, load_assignment

logger = logging.getLogger(__name__)
PLUGIN_NAME = "grader-sandbox"
LOCAL_PREFIX = "local:"
# Submissions per task. One takes about 17 ms of CPU; a task costs the scheduler and the
# network a few ms: 16 keeps that overhead near 1% (benchmarks/cluster.py measures it) while
# the last batches still spread over the workers.
BATCH_SIZE = 16
# A part-filled batch is sent once no submission has joined it for this long: while the
# client reads steadily batches fill; at the end of a class, or while the client waits on
# results, the last few go without waiting for more.
FLUSH_SECONDS = 0.05
# Batches queued per Dask worker thread: one running, one ready to start.
BATCHES_PER_THREAD = 2
CONNECT_SECONDS = 10


class WorkerRefused(SandboxUnavailable):
    """A Dask worker that cannot grade as the client would: its batches go elsewhere."""

    def __init__(self, worker: str, reason: str) -> None:
        super().__init__(worker, reason)  # both in args: the exception crosses the network
        self.worker, self.reason = worker, reason

    def __str__(self) -> str:
        return f"the Dask worker at {self.worker} refuses to grade: {self.reason}"


class RemoteFailure(Exception):
    """The grader failed on a submission on a Dask worker (a fault of ours, not the file's)."""


@dataclass(frozen=True)
class _Failed:
    """What comes back for a submission whose grading raised on the worker."""

    reason: str


def pack_folder(folder: Path) -> bytes:
    """An assignment folder as zip bytes, so workers need not see the client's disk."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.relative_to(folder).parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class SandboxPlugin(WorkerPlugin):
    """Starts a warm sandbox pool once per Dask worker, for the assignment it carries.

    A worker whose host lacks a protection while isolation is required keeps no pool and
    refuses every batch, saying why.
    """

    def __init__(
        self,
        assignment_zip: bytes,
        public_only: bool,
        require_isolation: bool,
        grader: str,
        lang: str = ENGLISH,
    ) -> None:
        self.assignment_zip = assignment_zip
        self.public_only = public_only
        self.lang = lang  # of the results' texts: the batch's, which the client cannot lend
        self.require_isolation = require_isolation
        self.grader = grader  # the client's sources hash: a worker with other code refuses
        self.pool: WorkerPool | None = None
        self.refusal: str | None = None
        self.host_protections: dict[str, str] = {}

    async def setup(self, worker: Any) -> None:
        # A worker that joins a running batch may be handed a task before its sandbox is up:
        # the task waits for this.
        self.ready = threading.Event()
        self.address = worker.address
        # Starting the pool takes a second: off the worker's event loop, so it stays responsive.
        await asyncio.to_thread(self._start, worker.state.nthreads)

    def _start(self, threads: int) -> None:
        try:
            self._start_pool(threads)
        finally:
            self.ready.set()

    def _start_pool(self, threads: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="grader-assignment-"))
        with zipfile.ZipFile(io.BytesIO(self.assignment_zip)) as archive:
            archive.extractall(self.folder)
        try:
            self.assignment: Assignment = load_assignment(self.folder)
        except Exception as problem:  # noqa: BLE001 - e.g. a module it imports is not installed
            self.refusal = f"the assignment does not load here ({problem})"
            return
        if grader_sources_hash() != self.grader:
            self.refusal = "its grader's code differs from the client's: install the same version"
            return
        try:
            self.pool = WorkerPool(sandbox_setup(self.assignment), threads, self.require_isolation)
        except SandboxUnavailable as problem:
            self.refusal = str(problem)
            return
        self.host_protections = self.pool.host_protections
        # Two threads per sandbox worker, as locally: one extracts or scores while the other
        # waits on its sandbox.
        self.threads = ThreadPoolExecutor(2 * threads)

    def grade(self, submissions: list[Submission]) -> list[SubmissionResult | _Failed]:
        self.ready.wait()
        if self.pool is None:
            raise WorkerRefused(self.address, self.refusal or "its sandbox did not start")
        return list(self.threads.map(self._grade_one, submissions))

    def _grade_one(self, submission: Submission) -> SubmissionResult | _Failed:
        try:
            with language(self.lang, self.assignment.folder):
                return grade_one(self.pool, self.assignment, submission, self.public_only)
        except Exception as problem:  # noqa: BLE001 - reported for this submission only
            return _Failed(f"{type(problem).__name__}: {problem}")

    def teardown(self, worker: Any) -> None:
        if self.pool is not None:
            self.threads.shutdown()
            self.pool.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def grade_on_worker(submissions: list[Submission]) -> list[SubmissionResult | _Failed]:
    """The task: one batch, graded by this Dask worker's sandbox."""
    plugin: SandboxPlugin = get_worker().plugins[PLUGIN_NAME]
    return plugin.grade(submissions)


def worker_state(dask_worker: Any) -> dict[str, Any]:
    """What a Dask worker's plugin found: its host's protections, or why it refuses."""
    plugin: SandboxPlugin = dask_worker.plugins[PLUGIN_NAME]
    return {"protections": plugin.host_protections, "refusal": plugin.refusal}


class DaskExecutor:
    """Grades submissions on a Dask cluster, gathered into batches, one task per batch."""

    def __init__(self, client: Client, batch_size: int = BATCH_SIZE) -> None:
        self.client = client
        self.batch_size = batch_size
        threads = sum(client.nthreads().values())
        self.concurrency = max(1, threads) * batch_size * BATCHES_PER_THREAD
        self.host_protections: dict[str, str] = {}
        self.waiting: list[tuple[Submission, Future[SubmissionResult]]] = []
        # Tasks in flight are held here: a Dask future nobody holds is cancelled.
        self.tasks: set[Any] = set()
        self.refusing: set[str] = set()  # workers that joined later and refuse to grade
        self.lock = threading.Lock()
        self.last_added = time.monotonic()
        self.closed = threading.Event()
        self.flusher = threading.Thread(target=self._flush_regularly, daemon=True)
        self.flusher.start()

    def grade(self, submission: Submission) -> SubmissionResult:
        future: Future[SubmissionResult] = Future()
        with self.lock:
            self.waiting.append((submission, future))
            self.last_added = time.monotonic()
            if len(self.waiting) >= self.batch_size:
                self._send()
        return future.result()

    def _flush_regularly(self) -> None:
        while not self.closed.wait(FLUSH_SECONDS / 5):
            with self.lock:
                if self.waiting and time.monotonic() - self.last_added >= FLUSH_SECONDS:
                    self._send()

    def _send(self) -> None:
        """Send the waiting submissions as one task (the lock is held)."""
        batch, self.waiting = self.waiting, []
        self._submit(batch)

    def _submit(self, batch: list[tuple[Submission, Future[SubmissionResult]]]) -> None:
        """One task for `batch`, on any worker that has not refused (the lock is held)."""
        allowed = None
        if self.refusing:
            allowed = [w for w in self.client.nthreads() if w not in self.refusing]
            if not allowed:
                for _, future in batch:
                    future.set_exception(SandboxUnavailable("every Dask worker refuses to grade"))
                return
        submissions = [submission for submission, _ in batch]
        task = self.client.submit(
            grade_on_worker, submissions, pure=False, workers=allowed, allow_other_workers=False
        )
        self.tasks.add(task)
        task.add_done_callback(lambda done: self._settle(done, batch))

    def _settle(self, task: Any, batch: list[tuple[Submission, Future[SubmissionResult]]]) -> None:
        """Hand each submission its result, or the batch's failure to each of them; a batch a
        worker refused is sent again, to the others."""
        with self.lock:
            self.tasks.discard(task)
        try:
            results = task.result()
        except WorkerRefused as refusal:
            logger.warning("%s; its batches go to the other workers", refusal)
            with self.lock:
                self.refusing.add(refusal.worker)
                self._submit(batch)
            return
        except BaseException as problem:  # noqa: BLE001 - every waiting submission hears of it
            for _, future in batch:
                future.set_exception(problem)
            return
        futures = [future for _, future in batch]
        for future, result in zip(futures, results, strict=True):
            if isinstance(result, _Failed):
                future.set_exception(RemoteFailure(result.reason))
            else:
                future.set_result(result)

    def close(self) -> None:
        self.closed.set()
        self.flusher.join()


@contextmanager
def open_cluster(
    address: str,
    assignment: Assignment,
    public_only: bool = False,
    require_isolation: bool = False,
    batch_size: int = BATCH_SIZE,
    lang: str = ENGLISH,
) -> Iterator[DaskExecutor]:
    """Connect to `address` (`tcp://HOST:PORT`, or `local:N` for a LocalCluster of N worker
    processes started here), start the sandbox on every worker, and yield the executor, whose
    results' texts are in `lang`.

    Raises `ClusterUnavailable` when the cluster cannot be reached or has no worker, and
    `SandboxUnavailable` when isolation is required and a worker's host lacks it.
    """
    with _client(address) as client:
        try:  # a cluster just started may still be bringing its workers up
            client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except TimeoutError:
            raise ClusterUnavailable(
                f"the Dask cluster at {address} has no worker after {CONNECT_SECONDS} s"
            ) from None
        plugin = SandboxPlugin(
            pack_folder(assignment.folder),
            public_only,
            require_isolation,
            grader_sources_hash(),
            lang,
        )
        client.register_plugin(plugin, name=PLUGIN_NAME)
        try:
            states = client.run(worker_state)
            refusals = {w: s["refusal"] for w, s in states.items() if s["refusal"] is not None}
            if refusals:
                said = "; ".join(f"{worker}: {why}" for worker, why in sorted(refusals.items()))
                raise SandboxUnavailable(f"Dask workers refuse to grade ({said})")
            executor = DaskExecutor(client, batch_size)
            executor.host_protections = combined_protections(
                {w: s["protections"] for w, s in states.items()}
            )
            try:
                yield executor
            finally:
                executor.close()
        finally:
            client.unregister_worker_plugin(PLUGIN_NAME)


def combined_protections(by_worker: dict[str, dict[str, str]]) -> dict[str, str]:
    """Each protection is on only if it is on at every worker; else where and why it is off."""
    names = {name for protections in by_worker.values() for name in protections}
    combined = {}
    for name in sorted(names):
        off = [
            f"{worker}: {protections.get(name, 'unknown')}"
            for worker, protections in sorted(by_worker.items())
            if protections.get(name) != "on"
        ]
        combined[name] = "; ".join(off) if off else "on"
    return combined


@contextmanager
def _client(address: str) -> Iterator[Client]:
    """A client of the scheduler at `address`, or of a LocalCluster started for `local:N`."""
    if address.startswith(LOCAL_PREFIX):
        count = address.removeprefix(LOCAL_PREFIX)
        if not count.isdigit() or int(count) < 1:
            raise ClusterUnavailable(f"{address}: say local:N with N the number of workers")
        with (
            LocalCluster(
                n_workers=int(count),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as problem:
        raise ClusterUnavailable(
            f"the Dask scheduler at {address} could not be reached "
            f"({problem}); is it running, and is the address tcp://HOST:PORT?"
        ) from None
    with client:
        yield client
