"""The node's per-frame path: the header encode and the camera worker's bounded wait."""

from __future__ import annotations

import asyncio
import functools
import threading

import pytest

from camera_node.publisher import frame_header_bytes
from camera_node.worker import CameraWorker, WorkerClosed, WorkerTimeout
from protocol import FrameHeader, ProtocolError, decode_event, encode

HEADERS = [
    FrameHeader("cam1", 1, 12.5, 960, 640, 0, True, None, False, 1),
    FrameHeader("cam-02", 99, 1e6, 960, 640, 7, False, 123.25, True, 5, (0.25, 0.75)),
    FrameHeader("cam_3", 2**40, 0.0, 1, 1, 2**31, True, 0.0, True, 10, (0, 1)),
    FrameHeader("cam4", 3, 2.0, 960, 640, 4, False, None, False, 5, (0.5, 0.5), -23.5),
]


@pytest.mark.parametrize("header", HEADERS)
def test_frame_header_bytes_are_what_the_codec_makes(header: FrameHeader) -> None:
    assert frame_header_bytes(header) == encode(header.event(b"jpeg"))[1]
    event = decode_event([b"frame." + header.camera.encode(), frame_header_bytes(header), b"jpeg"])
    assert FrameHeader.from_header(event.header) == FrameHeader(
        **{**event.header, "zoom_center": tuple(event.header["zoom_center"])}
    )


def test_travel_in_the_header_from_a_node_and_without_it_from_an_older_one() -> None:
    header = HEADERS[-1]
    assert FrameHeader.from_header(header.to_header()).travel == -23.5
    older = {k: v for k, v in HEADERS[0].to_header().items() if k != "travel"}
    assert FrameHeader.from_header(older).travel is None
    with pytest.raises(ProtocolError, match="'travel' has the wrong type"):
        FrameHeader.from_header({**header.to_header(), "travel": "far"})


def test_worker_returns_results_and_raises_the_jobs_errors() -> None:
    worker = CameraWorker()

    def boom() -> int:
        raise ValueError("no")

    async def main() -> None:
        assert (
            await worker.run(lambda: threading.current_thread().name, 1.0) != threading.current_thread().name
        )
        squares = []
        for i in range(5):
            squares.append(await worker.run(functools.partial(pow, i, 2), 1.0))
        assert squares == [0, 1, 4, 9, 16]
        with pytest.raises(ValueError, match="no"):
            await worker.run(boom, 1.0)

    asyncio.run(main())
    worker.shutdown()


def test_worker_times_out_and_the_job_goes_on() -> None:
    worker = CameraWorker()
    release, ran = threading.Event(), threading.Event()

    def slow() -> int:
        release.wait(5.0)
        ran.set()
        return 1

    async def main() -> None:
        with pytest.raises(WorkerTimeout):
            await worker.run(slow, 0.05)
        release.set()
        assert await worker.run(lambda: 2, 5.0) == 2  # queued behind the slow job

    asyncio.run(main())
    assert ran.is_set()
    worker.shutdown()


def test_worker_cancellation_reaches_the_caller_and_never_is_swallowed() -> None:
    worker = CameraWorker()
    release = threading.Event()

    async def main() -> None:
        task = asyncio.ensure_future(worker.run(lambda: release.wait(5.0), 5.0))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()

    asyncio.run(main())
    worker.shutdown()
    with pytest.raises(WorkerClosed):
        worker.submit(lambda: 1)
