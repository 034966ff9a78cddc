"""``tetherfocus node bench``: what the node itself costs per frame, and how late frames go out.

Method:

1. Rendering is measured apart.  The simulated camera renders and encodes ``PRERENDER``
   live-view frames in virtual time; the CPU time of each is the *render* figure, which is
   not the node's cost (a real camera encodes its own JPEGs).
2. The node runs in this process, exactly as ``tetherfocus node`` runs it (worker thread,
   PUB socket, ROUTER, status loop), over :class:`FrameSource`: a backend that hands out the
   pre-rendered JPEGs at ``fps``, waiting for each frame slot like a camera does.
3. A subscriber in a *separate process* receives the frames on loopback and stamps their
   arrival with the same monotonic clock (CLOCK_MONOTONIC is system wide).
4. Figures: the node process's CPU time (user + system, all threads including ZeroMQ's I/O
   thread) over the run divided by the frames published; the latency from the backend
   returning a frame to the frame being handed to the PUB socket (p50/p99); and from the
   same moment to the subscriber's receipt (p50/p99).
"""

from __future__ import annotations

import asyncio
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from camera_node.backends.base import (
    CAP_CAPTURE,
    CAP_LIVEVIEW,
    Backend,
    BackendError,
    CameraInfo,
    CapturedFile,
    ConfigItem,
    Direction,
)
from camera_node.clock import RealClock, VirtualClock
from camera_node.config import CameraSpec, NodeConfig
from camera_node.jpeg import jpeg_size
from camera_node.service import Node
from tetherfocus.outputs import write_text

PRERENDER = 40

_SUBSCRIBER = r"""
import json, sys, time, msgpack, zmq
endpoint, topic, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.RCVHWM, 16)
sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
sub.connect(endpoint)
print("ready", flush=True)
out = []
end = time.monotonic() + seconds
while time.monotonic() < end:
    if not sub.poll(200):
        continue
    frames = sub.recv_multipart(copy=False)
    now = time.monotonic()
    header = msgpack.unpackb(frames[1].bytes)
    out.append((header["seq"], header["t"], now, len(frames[2].bytes)))
print(json.dumps(out), flush=True)
ctx.destroy(linger=0)
"""


class FrameSource(Backend):
    """Pre-rendered JPEGs at ``fps``, paced like a camera; everything else is not supported."""

    def __init__(self, frames: list[bytes], fps: float) -> None:
        self.frames = frames
        self.period = 1.0 / fps
        self.i = 0
        self.next_t = 0.0
        self.size = jpeg_size(frames[0]) or (0, 0)
        self.liveview = False

    def open(self) -> CameraInfo:
        return CameraInfo("bench", "pre-rendered frames", "", frozenset({CAP_LIVEVIEW, CAP_CAPTURE}))

    def close(self) -> None:
        self.liveview = False

    def liveview_start(self) -> None:
        self.liveview = True
        self.next_t = time.monotonic()

    def liveview_stop(self) -> None:
        self.liveview = False

    def preview(self) -> tuple[bytes, int, int]:
        now = time.monotonic()
        if self.next_t > now:
            time.sleep(self.next_t - now)
        self.next_t = max(self.next_t + self.period, time.monotonic() - self.period)
        jpeg = self.frames[self.i % len(self.frames)]
        self.i += 1
        return jpeg, self.size[0], self.size[1]

    def _no(self, *args: Any) -> Any:
        raise BackendError("not_supported", "the benchmark source only streams frames")

    def focus_drive(self, direction: Direction, level: int) -> None:
        self._no()

    def focus_steps(self, steps: int) -> None:
        self._no()

    def zoom_set(self, zoom: int, center: tuple[float, float] | None) -> None:
        self._no()

    def capture(self) -> CapturedFile:
        return self._no()  # type: ignore[no-any-return]

    def config_list(self) -> list[ConfigItem]:
        return []

    def config_get(self, name: str) -> ConfigItem:
        return self._no()  # type: ignore[no-any-return]

    def config_set(self, name: str, value: Any) -> ConfigItem:
        return self._no()  # type: ignore[no-any-return]


def prerender(scene: str | None, count: int = PRERENDER) -> tuple[list[bytes], list[float]]:
    """``count`` live-view JPEGs of the simulator and the CPU seconds each took to render."""
    from camera_node.backends.sim import open_sim_backend

    backend = open_sim_backend(scene, seed=1, clock=VirtualClock())
    backend.open()
    backend.liveview_start()
    frames, cpu = [], []
    for i in range(count):
        if i % 4 == 0:  # move the motor so frames differ as in use
            backend.focus_drive("far" if (i // 20) % 2 else "near", 2)
        t0 = time.thread_time()
        jpeg, _w, _h = backend.preview()
        cpu.append(time.thread_time() - t0)
        frames.append(jpeg)
    backend.close()
    return frames, cpu


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(_pct(values, 50) * 1000, 3),
        "p99": round(_pct(values, 99) * 1000, 3),
        "max": round(max(values) * 1000, 3) if values else float("nan"),
        "n": len(values),
    }


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _measure(frames: list[bytes], fps: float, seconds: float) -> dict[str, Any]:
    config = NodeConfig(
        camera=CameraSpec("sim", None),
        name="bench",
        pub="tcp://127.0.0.1:*",
        rep="tcp://127.0.0.1:*",
        fps=0.0,
    )
    source = FrameSource(frames, fps)
    node = Node(config, lambda: source, clock=RealClock())
    stop = asyncio.Event()
    running = asyncio.ensure_future(node.run(stop))
    await asyncio.wait_for(node.started.wait(), 10)
    sub = subprocess.Popen(
        [sys.executable, "-c", _SUBSCRIBER, node.publisher.endpoint, "frame.bench", str(seconds + 2.0)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sub.stdout is not None
    await asyncio.get_running_loop().run_in_executor(None, sub.stdout.readline)  # subscriber ready
    await asyncio.sleep(1.0)  # warm up: connections made, caches hot
    node.latency.clear()
    seq0, cpu0, wall0 = node.seq, _cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    seq1, cpu1, wall1 = node.seq, _cpu(), time.monotonic()
    publish = list(node.latency)
    stop.set()
    await running
    received = json.loads(await asyncio.get_running_loop().run_in_executor(None, sub.stdout.read) or "[]")
    sub.wait(10)
    in_window = [r for r in received if seq0 < r[0] <= seq1]
    to_sub = [r[2] - r[1] for r in in_window]
    published = seq1 - seq0
    return {
        "frames_published": published,
        "fps_measured": round(published / (wall1 - wall0), 2),
        "node_cpu_ms_per_frame": round((cpu1 - cpu0) / max(1, published) * 1000, 3),
        "node_cpu_percent_of_one_core": round((cpu1 - cpu0) / (wall1 - wall0) * 100, 2),
        "latency_backend_to_pub_ms": _ms(publish[: published or None]),
        "latency_backend_to_subscriber_ms": _ms(to_sub),
        "subscriber_frames": len(in_window),
        "subscriber_missed": published - len(in_window),
    }


def bench(seconds: float = 10.0, fps: float = 25.0, scene: str | None = None) -> dict[str, Any]:
    """Run the benchmark; the figures as a dict (see the module docstring)."""
    frames, render_cpu = prerender(scene)
    result = asyncio.run(_measure(frames, fps, seconds))
    return {
        "fps_target": fps,
        "seconds": seconds,
        "jpeg_bytes_mean": round(statistics.fmean(len(f) for f in frames)),
        "frame_size": list(jpeg_size(frames[0]) or (0, 0)),
        "render_ms_per_frame_not_counted": round(statistics.median(render_cpu) * 1000, 3),
        **result,
        "host": {
            "machine": platform.machine(),
            "python": platform.python_version(),
            "system": platform.system(),
            "processor": platform.processor() or platform.machine(),
        },
    }


def run_bench(seconds: float, fps: float, scene: str | None, json_out: Path | None) -> int:
    """The ``tetherfocus node bench`` command: prints the figures; writes JSON when asked."""
    figures = bench(seconds, fps, scene)
    text = json.dumps(figures, indent=2)
    print(text)
    if json_out is not None:
        write_text(json_out, text + "\n")
    return 0
