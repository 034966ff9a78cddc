"""Figure 2 of ``bench pipeline``: node -> controller frames/s and MB/s against bare pyzmq.

Both sides push the same pre-rendered JPEGs, as fast as they can, from a child process
over loopback TCP, with the same high-water marks (the node's SNDHWM, the link's RCVHWM):

- *pipeline*: a real :class:`camera_node.service.Node` (worker thread, header stamping,
  :class:`camera_node.publisher.Publisher`) into a real :class:`controller.links.CameraLink`
  with a consumer attached, as an autofocus run attaches one;
- *bare*: a plain PUB socket re-sending the node's messages, encoded once, into a plain
  blocking SUB socket that only counts them.

A PUB socket drops at its high-water mark, so each side's figure is what its subscriber
received.  The rounds alternate (bare, pipeline, bare, pipeline, ...) so that a change in
the machine's load falls on both sides alike; ``ratio`` = pipeline / bare frames per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from controller.bench.feeder import Feeder
from controller.links import CameraLink
from controller.rig import CameraSpec

LINK_RCVHWM = 8  # what CameraLink sets on its SUB socket


def _bare_round(pub: str, seconds: float) -> int:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, LINK_RCVHWM)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"frame.bare")
    sub.connect(pub)
    try:
        deadline = time.monotonic() + 10.0
        while not sub.poll(100) and time.monotonic() < deadline:
            pass
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            if sub.poll(100):
                sub.recv_multipart(copy=False)
                n += 1
        return n
    finally:
        sub.close(linger=0)
        ctx.term()


async def _pipeline_round(node: dict[str, str], seconds: float) -> int:
    ctx = zmq.asyncio.Context()
    link = CameraLink(CameraSpec(node["name"], node["rep"], node["pub"]), ctx)
    link.start()
    q = link.attach()

    async def consume() -> None:
        while True:
            await q.get()

    consumer = asyncio.ensure_future(consume())
    try:
        deadline = time.monotonic() + 10.0
        while link.frames_seen == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        n0 = link.frames_seen
        await asyncio.sleep(seconds)
        return link.frames_seen - n0
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await link.stop()
        ctx.destroy(linger=0)


def _round(mode: str, frames: Path, seconds: float) -> int:
    feeder = Feeder(mode, frames, 1, 0.0)
    try:
        (node,) = feeder.ready()
        if mode == "bare":
            return _bare_round(node["pub"], seconds)
        return asyncio.run(_pipeline_round(node, seconds))
    finally:
        feeder.stop()


def measure(frames: Path, jpeg_bytes: float, seconds: float, rounds: int = 2) -> dict[str, Any]:
    """Frames/s and MB/s for both sides; ``seconds`` per side, split over ``rounds`` rounds."""
    per = max(0.5, seconds / rounds)
    got: dict[str, list[int]] = {"bare": [], "nodes": []}
    for _ in range(rounds):
        for mode in ("bare", "nodes"):
            got[mode].append(_round(mode, frames, per))
    span = per * rounds
    bare_fps = sum(got["bare"]) / span
    node_fps = sum(got["nodes"]) / span
    return {
        "what": "frames received per second by the subscriber, publisher unpaced, one stream, loopback",
        "pipeline_frames_per_s": round(node_fps, 1),
        "pipeline_mb_per_s": round(node_fps * jpeg_bytes / 1e6, 2),
        "bare_frames_per_s": round(bare_fps, 1),
        "bare_mb_per_s": round(bare_fps * jpeg_bytes / 1e6, 2),
        "ratio": round(node_fps / bare_fps, 3) if bare_fps else float("nan"),
        "rounds": {"bare": got["bare"], "pipeline": got["nodes"], "seconds_each": per},
    }
