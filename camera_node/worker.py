"""The one thread that owns the camera.

libgphoto2 allows one connection per USB device and is not safe to share between threads
(public reports: PTP errors and segfaults).  Every camera call of the node, live-view frames
and commands alike, is a job on this single thread, so calls never overlap and commands
interleave with frames at call granularity.

Bounds: :meth:`CameraWorker.run` waits at most ``timeout`` seconds for a job (queueing
included) and then raises :class:`WorkerTimeout`; the job itself cannot be interrupted (a
libgphoto2 call cannot be), so later jobs queue behind it until it returns.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerTimeout(Exception):
    """A camera job did not finish within its bound."""


class WorkerClosed(Exception):
    """The worker was shut down."""


class CameraWorker:
    """A single-thread executor for camera calls, awaited from asyncio."""

    def __init__(self, name: str = "camera") -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False
        self._queued = 0
        self._lock = threading.Lock()

    @property
    def queued(self) -> int:
        """Jobs submitted and not yet finished."""
        return self._queued

    def _done(self, _fut: object) -> None:
        with self._lock:
            self._queued -= 1

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        if self._closed:
            raise WorkerClosed("the camera worker is shut down")
        with self._lock:
            self._queued += 1
        fut = self._pool.submit(fn)
        fut.add_done_callback(self._done)
        return fut

    async def run(self, fn: Callable[[], T], timeout: float) -> T:
        """Run ``fn`` on the camera thread; its result or exception.

        Raises WorkerTimeout after ``timeout`` seconds (the job goes on in the background),
        WorkerClosed after shutdown.
        """
        # One asyncio future settled from the worker thread, and one timer: the cheapest
        # bounded wait (it is paid on every live-view frame).  Neither wait_for (on 3.11 it
        # can swallow a cancellation that arrives as the job finishes) nor asyncio.wait
        # (a waiter, callbacks and a set per call): a timeout or a cancellation leaves the
        # job running and is never swallowed.
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        job = self.submit(fn)

        def finished(f: concurrent.futures.Future[T]) -> None:  # on the worker thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, waiter, f)

        job.add_done_callback(finished)
        timer = loop.call_later(timeout, _expire, waiter, timeout)
        try:
            return await waiter
        finally:
            timer.cancel()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the thread to finish; False when a call is stuck."""
        waiter = threading.Thread(target=self._pool.shutdown, kwargs={"wait": True}, daemon=True)
        waiter.start()
        waiter.join(timeout)
        return not waiter.is_alive()

    def shutdown(self, wait: bool = True) -> None:
        """Refuse new jobs, drop queued ones, and (optionally) wait for the running one."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _settle(waiter: asyncio.Future[T], job: concurrent.futures.Future[T]) -> None:
    if waiter.done():  # timed out or cancelled meanwhile
        return
    if job.cancelled():  # dropped by shutdown before it ran: as asyncio.wrap_future does
        waiter.cancel()
        return
    exc = job.exception()
    if exc is not None:
        waiter.set_exception(exc)
    else:
        waiter.set_result(job.result())


def _expire(waiter: asyncio.Future[Any], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(WorkerTimeout(f"the camera did not answer within {timeout:g} s"))
