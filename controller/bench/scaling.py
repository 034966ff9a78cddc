"""Figure 3 (cameras sustained) and the at-load half of figure 2 of ``bench pipeline``.

One step runs N real camera nodes at 25 fps (:mod:`.feeder`, up to ``NODES_PER_FEEDER``
per child process, pre-rendered simulator JPEGs) into a real
:class:`controller.service.Controller`, and starts on every camera an
:class:`controller.runner.AutofocusRun` (the controller's own frame path: the link's
queue, the settled filter, decoding in the controller's measure pool) whose strategy is
:class:`Recorder`: it never moves the motor and wants every frame, the worst case for the
controller.  Frame-to-measure latency is ``feed`` time minus the header's ``t`` (the node
read the frame then; CLOCK_MONOTONIC is system wide on one host).

Each step measures, against the same publishers: the region decode (luma only, DCT
scaling, only the rows down to the region), then the full reference decode; and the same
N streams from plain PUB sockets into one plain SUB (the transport's limit at that load).

A step is *sustained* when the latency p99 is under ``P99_LIMIT_MS`` and at least
``KEEP_UP`` of the frames that arrived were measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import zmq

from controller.bench.feeder import Feeder
from controller.rig import CameraSpec, Rig
from controller.runner import AutofocusRun
from controller.search import Command, Failed, Observation
from controller.service import Controller

FPS = 25.0
P99_LIMIT_MS = 40.0
KEEP_UP = 0.9
NODES_PER_FEEDER = 8
RAMP = (4, 8, 16, 32, 48)


class Recorder:
    """A strategy that wants every frame at ``scale`` and never moves: it records latency."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.window = (math.inf, math.inf)
        self.latency: list[float] = []

    @property
    def wanted_scale(self) -> int:
        return self.scale

    @property
    def wanted_tiles(self) -> int:
        return 0

    @property
    def wanted_coarse(self) -> int:
        return 0

    @property
    def wants_moving(self) -> bool:
        return False

    @property
    def finished(self) -> bool:
        return False

    def start(self, now: float) -> list[Command]:
        return []

    def moved(self, move_id: int, now: float) -> list[Command]:
        return []

    def feed(self, obs: Observation, now: float) -> list[Command]:
        if self.window[0] <= obs.t and now <= self.window[1]:
            self.latency.append(now - obs.t)
        return []

    def cancel(self, now: float) -> list[Command]:
        return [Failed("cancelled", "the benchmark window is over")]

    def move_failed(self, detail: str, now: float) -> list[Command]:
        return [Failed("camera_error", detail)]


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _measure_mode(
    ctl: Controller, roi: Sequence[float], scale: int, reference: bool, seconds: float, warmup: float
) -> dict[str, Any]:
    links = list(ctl.links.values())
    recorders = [Recorder(scale) for _ in links]
    runs = [
        AutofocusRun(
            link,
            rec,
            "bench",
            roi,
            ctl._emitter(link.name, i + 1),
            executor=ctl.executor,
            reference_decode=reference,
        )
        for i, (link, rec) in enumerate(zip(links, recorders, strict=True))
    ]
    tasks = [asyncio.ensure_future(r.run()) for r in runs]
    await asyncio.sleep(warmup)
    t0 = time.monotonic()
    for rec in recorders:
        rec.window = (t0, t0 + seconds)
    seen0, cpu0 = sum(link.frames_seen for link in links), _cpu_s()
    await asyncio.sleep(seconds)
    seen1, cpu1 = sum(link.frames_seen for link in links), _cpu_s()
    for r in runs:
        r.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = [v for rec in recorders for v in rec.latency]
    received = seen1 - seen0
    p99 = _pct(lat, 99) * 1000
    kept = len(lat) / received if received else 0.0
    return {
        "latency_ms_p50": round(_pct(lat, 50) * 1000, 2),
        "latency_ms_p99": round(p99, 2),
        "frames_received": received,
        "frames_measured": len(lat),
        "measured_fraction": round(kept, 3),
        "measure_per_s": round(len(lat) / seconds, 1),
        "controller_cpu_percent": round(100 * (cpu1 - cpu0) / seconds, 1),
        "sustained": bool(p99 < P99_LIMIT_MS and kept >= KEEP_UP),
    }


@contextlib.asynccontextmanager
async def running_controller(nodes: list[dict[str, str]], timeout: float = 60.0) -> AsyncIterator[Controller]:
    """A real Controller on 127.0.0.1 linked to ``nodes`` ({name, rep, pub}), yielded once
    every link is online and has seen a frame; stopped on exit.  RuntimeError past ``timeout``."""
    rig = Rig(tuple(CameraSpec(n["name"], n["rep"], n["pub"]) for n in nodes))
    ctl = Controller(rig, rep="tcp://127.0.0.1:*", pub="tcp://127.0.0.1:*", announce=False)
    stop = asyncio.Event()
    running = asyncio.ensure_future(ctl.run(stop))
    try:
        await asyncio.wait_for(ctl.ready.wait(), 30)
        deadline = time.monotonic() + timeout
        while any(link.frames_seen == 0 or not link.online for link in ctl.links.values()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"not every node's frames reached the controller within {timeout:g} s")
            await asyncio.sleep(0.1)
        yield ctl
    finally:
        stop.set()
        await running


async def _controller_step(
    nodes: list[dict[str, str]],
    roi: Sequence[float],
    scale: int,
    seconds: float,
    warmup: float,
    full_decode: bool,
) -> dict[str, Any]:
    async with running_controller(nodes) as ctl:
        out = {"region_decode": await _measure_mode(ctl, roi, scale, False, seconds, warmup)}
        if full_decode:
            out["full_decode"] = await _measure_mode(ctl, roi, scale, True, seconds, warmup)
        return out


def _bare_step(frames: Path, n: int, seconds: float) -> dict[str, Any]:
    feeder = Feeder("bare", frames, n, FPS)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    try:
        sub.setsockopt(zmq.RCVHWM, 8)  # CameraLink's
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"frame.")
        for node in feeder.ready():
            sub.connect(node["pub"])
        end = time.monotonic() + 1.0  # warm up: every connection made
        while time.monotonic() < end:
            if sub.poll(50):
                sub.recv_multipart(copy=False)
        got, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            if sub.poll(50):
                sub.recv_multipart(copy=False)
                got += 1
        return {"frames_per_s": round(got / seconds, 1)}
    finally:
        sub.close(linger=0)
        ctx.term()
        feeder.stop()


def step(
    frames: Path,
    n: int,
    *,
    roi: Sequence[float],
    scale: int,
    seconds: float,
    warmup: float = 1.0,
    full_decode: bool = True,
) -> dict[str, Any]:
    """One step of the ramp with ``n`` cameras (see the module docstring)."""
    sizes = [NODES_PER_FEEDER] * (n // NODES_PER_FEEDER) + (
        [n % NODES_PER_FEEDER] if n % NODES_PER_FEEDER else []
    )
    feeders = [Feeder("nodes", frames, k, FPS) for k in sizes]
    try:
        nodes: list[dict[str, str]] = []
        for k, f in enumerate(feeders):
            for node in f.ready():
                node["name"] = f"f{k}{node['name']}"  # unique across feeders
                nodes.append(node)
        result = asyncio.run(_controller_step(nodes, roi, scale, seconds, warmup, full_decode))
    finally:
        for f in feeders:
            f.stop()
    result["cameras"] = n
    bare = _bare_step(frames, n, seconds)
    received = result["region_decode"]["frames_received"] / seconds
    result["transport"] = {
        "pipeline_frames_per_s": round(received, 1),
        "bare_frames_per_s": bare["frames_per_s"],
        "offered_frames_per_s": n * FPS,
        "ratio": round(received / bare["frames_per_s"], 3) if bare["frames_per_s"] else math.nan,
    }
    return result


def ramp(max_cameras: int) -> list[int]:
    """The camera counts to try, up to ``max_cameras``."""
    steps = [n for n in RAMP if n < max_cameras]
    return [*steps, max_cameras]
