"""Concurrent requests scored together: one worker thread, one pass per batch of waiting jobs.

Validating, building features and scoring cost about the same for one row as
for a hundred: the cost is in the number of polars queries, not in the rows. So
the worker takes every job that is waiting when it is free and runs them as one
batch (jobs of another model version go in a batch of their own). A lone request
is not held back to wait for company; under load, batches form by themselves,
and the worker lingers up to 2 ms for as many jobs as its last batch held.
The event loop only reads requests and writes answers.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Job = TypeVar("Job")
Answer = TypeVar("Answer")
DEFAULT_MAX_JOBS = 64
DEFAULT_LINGER_SECONDS = 0.002
log = logging.getLogger("mlops.serve")


class MicroBatcher(Generic[Job, Answer]):
    """Hands the jobs waiting at each moment to `handle` together, on a thread of its own.

    `handle` takes a list of jobs that share one `group_of` value and returns their
    answers in the same order.
    """

    def __init__(
        self,
        handle: Callable[[list[Job]], list[Answer]],
        group_of: Callable[[Job], object],
        on_failure: Callable[[Job, Exception], Answer],
        max_jobs: int = DEFAULT_MAX_JOBS,
        linger_seconds: float = DEFAULT_LINGER_SECONDS,
    ):
        self.handle = handle
        self.linger_seconds = linger_seconds
        self.group_of = group_of
        self.on_failure = on_failure
        self.max_jobs = max_jobs
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mlops-batcher", daemon=True)

    async def submit(self, job: Job) -> Answer:
        """The job's answer, once its batch has run."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._queue.put((job, loop, future))
        return await future

    def _waiting(self, first, expected: int) -> list:
        """The first job and every job waiting behind it. Under concurrent load (the last batch
        held `expected` > 1 jobs) it lingers up to `linger_seconds` for that many, since the
        clients answered together come back together; a lone client never waits."""
        batch = [first]
        deadline = time.monotonic() + (self.linger_seconds if expected > 1 else 0.0)
        while len(batch) < self.max_jobs:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if len(batch) >= expected or left <= 0:
                    break
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    @staticmethod
    def _resolve(loop: asyncio.AbstractEventLoop, future: asyncio.Future, answer) -> None:
        def settle() -> None:
            if not future.done():
                future.set_result(answer)

        loop.call_soon_threadsafe(settle)

    def _run(self) -> None:
        expected = 1
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = self._waiting(first, expected)
            expected = len(batch)
            groups: dict[int, list] = {}
            for item in batch:
                groups.setdefault(id(self.group_of(item[0])), []).append(item)
            for items in groups.values():
                jobs = [job for job, _, _ in items]
                try:
                    answers = self.handle(jobs)
                except Exception as error:
                    log.exception("a batch of %d requests failed", len(jobs))
                    answers = [self.on_failure(job, error) for job in jobs]
                for (_, loop, future), answer in zip(items, answers, strict=True):
                    self._resolve(loop, future, answer)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Answer what is queued, then stop."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=60)
