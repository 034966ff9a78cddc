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
import threading
from collections.abc import Callable
from typing import TypeVar

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
        fut = asyncio.wrap_future(self.submit(fn))
        # asyncio.wait, not wait_for(shield(...)): on Python 3.11 wait_for can swallow a
        # cancellation that arrives as the job finishes, and the caller then never stops.
        # wait() leaves the job running on timeout or cancellation, and never swallows either.
        done, _ = await asyncio.wait({fut}, timeout=timeout)
        if not done:
            raise WorkerTimeout(f"the camera did not answer within {timeout:g} s")
        return fut.result()

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
