"""Figure 3's headline: how many cameras real autofocus runs can serve at once.

One step runs N real camera nodes (:class:`camera_node.service.Node`, as ``tetherfocus
node`` runs it, ``NODES_PER_FEEDER`` per child process, :mod:`.feeder` mode ``afnodes``)
over the real simulated camera (its motor with latency, backlash, jitter and skipped
steps, its 25 fps live-view timing, zoom, the gphoto2 facade and the node's gphoto2
backend; the node's own ``settled`` flags and ``move_id``), with one change: each frame is
looked up in a focus stack pre-rendered by the simulator's renderer, at the nearest
rendered motor position (:mod:`.stack`), instead of being rendered.

A real :class:`controller.service.Controller` links to all of them.  On every camera at
once it starts an :class:`controller.runner.AutofocusRun` with the real ``default``
strategy (made as the controller's ``autofocus`` command makes it), decoding in the
controller's measure pool; before each run, the first included, that camera's focus is
thrown off by a random drive of 1-4 level-3 steps, until the window closes.  That drive
also staggers the runs' starts, in both decodes' windows alike.  Runs still
going then may finish (at most ``linger`` s; later ones are cancelled and not counted).

Frame-to-measure latency is the time the strategy is fed a frame minus the header's
``t`` (the node read the frame then; CLOCK_MONOTONIC is system wide on one host), over
every frame measured inside the window.  A run succeeds when it reports Done and the
body's true motor position (asked of the feeder after the motor stopped) is within the
autofocus benchmark's tolerance of the region's true focus.

A step is *sustained* when the latency p99 is under ``P99_LIMIT_MS`` and no run failed
for want of frames or answers (``no_frames``, ``node_offline``).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controller.bench.feeder import Feeder
from controller.bench.scaling import P99_LIMIT_MS, _cpu_s, _pct, running_controller
from controller.links import CameraLink
from controller.runner import AutofocusRun
from controller.search import Command, Observation, Strategy, create_strategy
from controller.service import Controller
from tetherfocus.client import RemoteError

NODES_PER_FEEDER = 8
STRATEGY = "default"
TRANSPORT_FAILURES = ("no_frames", "node_offline")
SETTLE_S = 0.6  # after a run's last drive, before the truth is read


class Timed:
    """A strategy that records, for each frame it is fed inside ``window``, now - frame time."""

    def __init__(self, inner: Strategy, window: list[float], sink: list[float]) -> None:
        self.inner = inner
        self.window = window
        self.sink = sink

    @property
    def wanted_scale(self) -> int:
        return self.inner.wanted_scale

    @property
    def wanted_tiles(self) -> int:
        return self.inner.wanted_tiles

    @property
    def wanted_coarse(self) -> int:
        return self.inner.wanted_coarse

    @property
    def wants_moving(self) -> bool:
        return self.inner.wants_moving

    @property
    def finished(self) -> bool:
        return self.inner.finished

    @property
    def position(self) -> Any:
        return getattr(self.inner, "position", None)

    @property
    def phase(self) -> Any:
        return getattr(self.inner, "phase", None)

    def start(self, now: float) -> list[Command]:
        return self.inner.start(now)

    def moved(self, move_id: int, now: float) -> list[Command]:
        return self.inner.moved(move_id, now)

    def feed(self, obs: Observation, now: float) -> list[Command]:
        if self.window[0] <= obs.t and now <= self.window[1]:
            self.sink.append(now - obs.t)
        return self.inner.feed(obs, now)

    def cancel(self, now: float) -> list[Command]:
        return self.inner.cancel(now)

    def move_failed(self, detail: str, now: float) -> list[Command]:
        return self.inner.move_failed(detail, now)


class _Truth:
    """Asks the feeders for the bodies' true positions, one question per feeder at a time."""

    def __init__(self, feeders: Sequence[Feeder], owner: dict[str, int]) -> None:
        self.feeders = feeders
        self.owner = owner  # camera name (as the controller knows it) -> feeder index
        self.locks = [threading.Lock() for _ in feeders]

    def _ask(self, k: int) -> dict[str, Any]:
        with self.locks[k]:
            return self.feeders[k].truth()

    async def position(self, camera: str, local: str) -> float:
        k = self.owner[camera]
        doc = await asyncio.get_running_loop().run_in_executor(None, self._ask, k)
        return float(doc["truth"][local])


class _Camera:
    """One camera's loop of runs."""

    def __init__(self, link: CameraLink, local: str, index: int, rng: random.Random) -> None:
        self.link = link
        self.local = local  # its name inside the feeder
        self.index = index
        self.rng = rng
        self.results: list[dict[str, Any]] = []
        self.received = 0
        self.measured = 0
        self.skipped_unsettled = 0
        self.skipped_superseded = 0
        self.stale = 0
        self.scramble_failures = 0
        self.run: AutofocusRun | None = None


async def _loop(
    ctl: Controller,
    cam: _Camera,
    roi: Sequence[float],
    reference: bool,
    window: list[float],
    sink: list[float],
    truth: _Truth,
    focus: float,
    tolerance: float,
) -> None:
    while time.monotonic() < window[1]:
        link = cam.link
        # throw focus off: 1-4 level-3 drives either way
        args = {"direction": cam.rng.choice(("near", "far")), "level": 3, "count": cam.rng.randint(1, 4)}
        try:
            await link.call("focus.drive", args, timeout=10.0)
        except RemoteError:
            cam.scramble_failures += 1
            await asyncio.sleep(0.2)
            continue
        if time.monotonic() >= window[1]:
            return
        strategy = create_strategy(
            STRATEGY, zoom_levels=link.zoom_levels, capabilities=link.capabilities, roi=roi
        )
        run = AutofocusRun(
            link,
            Timed(strategy, window, sink),
            STRATEGY,
            roi,
            ctl._emitter(link.name, cam.index),
            executor=ctl.executor,
            reference_decode=reference,
        )
        cam.run = run
        seen0 = link.frames_seen
        result = await run.run()
        cam.received += link.frames_seen - seen0
        cam.measured += run.frames
        cam.skipped_unsettled += run.unsettled
        cam.skipped_superseded += run.superseded
        cam.stale += run.stale
        cam.run = None
        if result.get("reason") == "cancelled":
            return
        await asyncio.sleep(SETTLE_S)  # the last drive goes out with Done
        true = await truth.position(link.name, cam.local)
        result["true_position"] = true
        result["abs_error_steps"] = round(abs(true - focus), 3)
        result["success"] = bool(result["ok"] and abs(true - focus) <= tolerance)
        cam.results.append(result)


async def _mode(
    ctl: Controller,
    cams: list[_Camera],
    roi: Sequence[float],
    reference: bool,
    seconds: float,
    linger: float,
    truth: _Truth,
    focus: float,
    tolerance: float,
) -> dict[str, Any]:
    """One measurement window.  Every run, the first included, starts with that camera's
    focus thrown off by its own random drive, which staggers the starts.  (Until session 5
    the first window's first runs had no such drive: they all began at the same instant and
    moved in step for their first seconds, and whichever decode that window measured had
    the worse p99.  At 48 cameras that was 44-48 ms against 22-26 ms for the second window,
    in four runs with the order alternated; with both staggered, the region decode measured
    25-31 ms and the full decode 44-63 ms.)"""
    sink: list[float] = []
    t0 = time.monotonic()
    window = [t0, t0 + seconds]
    for cam in cams:
        cam.results, cam.received, cam.measured, cam.stale = [], 0, 0, 0
        cam.skipped_unsettled = cam.skipped_superseded = cam.scramble_failures = 0
    cpu0 = _cpu_s()
    tasks = [
        asyncio.ensure_future(_loop(ctl, c, roi, reference, window, sink, truth, focus, tolerance))
        for c in cams
    ]
    await asyncio.sleep(seconds)
    cpu1 = _cpu_s()
    _, pending = await asyncio.wait(tasks, timeout=linger)
    cancelled = 0
    for cam in cams:
        if cam.run is not None and pending:
            cam.run.cancel()
            cancelled += 1
    await asyncio.gather(*tasks, return_exceptions=True)
    runs = [r for c in cams for r in c.results]
    p99 = _pct(sink, 99) * 1000
    transport_failed = sum(1 for r in runs if r.get("reason") in TRANSPORT_FAILURES)
    done = [r for r in runs if r["ok"]]
    errors = [r["abs_error_steps"] for r in runs]
    return {
        "latency_ms_p50": round(_pct(sink, 50) * 1000, 2),
        "latency_ms_p99": round(p99, 2),
        "frames_measured_in_window": len(sink),
        "measure_per_s": round(len(sink) / seconds, 1),
        "frames_received": sum(c.received for c in cams),
        "frames_measured": sum(c.measured for c in cams),
        "skipped_not_settled": sum(c.skipped_unsettled for c in cams),
        "skipped_before_last_move": sum(c.skipped_superseded for c in cams),
        "skipped_newer_waiting": sum(c.stale for c in cams),
        "controller_cpu_percent": round(100 * (cpu1 - cpu0) / seconds, 1),
        "runs": len(runs),
        "runs_done": len(done),
        "runs_successful": sum(1 for r in runs if r["success"]),
        "success_rate": round(sum(1 for r in runs if r["success"]) / len(runs), 3) if runs else None,
        "runs_cancelled_at_end": cancelled,
        "failures": sorted({str(r.get("reason")) for r in runs if not r["ok"]}),
        "transport_failures": transport_failed,
        "scramble_drives_refused": sum(c.scramble_failures for c in cams),
        "median_run_seconds": round(statistics.median(r["seconds"] for r in runs), 2) if runs else None,
        "median_abs_error_steps": round(statistics.median(errors), 2) if errors else None,
        "sustained": bool(p99 < P99_LIMIT_MS and transport_failed == 0 and len(sink) > 0),
    }


async def _controller_step(
    nodes: list[dict[str, str]],
    roi: Sequence[float],
    seconds: float,
    linger: float,
    full_decode: bool,
    truth: _Truth,
    focus: float,
    tolerance: float,
) -> dict[str, Any]:
    async with running_controller(nodes) as ctl:
        cams = [
            _Camera(ctl.links[n["name"]], n["local"], i + 1, random.Random(1000 + i))
            for i, n in enumerate(nodes)
        ]
        out = {"region_decode": await _mode(ctl, cams, roi, False, seconds, linger, truth, focus, tolerance)}
        if full_decode:
            out["full_decode"] = await _mode(ctl, cams, roi, True, seconds, linger, truth, focus, tolerance)
        return out


def step(
    stack_path: Path,
    n: int,
    *,
    roi: Sequence[float],
    focus: float,
    tolerance: float,
    seconds: float,
    linger: float = 30.0,
    full_decode: bool = True,
) -> dict[str, Any]:
    """One step with ``n`` cameras (see the module docstring)."""
    sizes = [NODES_PER_FEEDER] * (n // NODES_PER_FEEDER) + (
        [n % NODES_PER_FEEDER] if n % NODES_PER_FEEDER else []
    )
    feeders = [Feeder("afnodes", stack_path, k, 0.0, seed=100 * j + 1) for j, k in enumerate(sizes)]
    missed = 0
    try:
        nodes: list[dict[str, str]] = []
        owner: dict[str, int] = {}
        for k, f in enumerate(feeders):
            for node in f.ready():
                node["local"] = node["name"]
                node["name"] = f"f{k}{node['name']}"  # unique across feeders
                owner[node["name"]] = k
                nodes.append(node)
        truth = _Truth(feeders, owner)
        result = asyncio.run(
            _controller_step(nodes, roi, seconds, linger, full_decode, truth, focus, tolerance)
        )
        missed = sum(int(f.truth()["missed"]) for f in feeders)
    finally:
        for f in feeders:
            f.stop()
    cpu = sum(f.cpu_s_since_ready for f in feeders)
    published = sum(f.published_since_ready for f in feeders)
    result["cameras"] = n
    result["frames_rendered_not_from_stack"] = missed
    result["nodes_cpu_ms_per_frame"] = round(cpu / published * 1000, 3) if published else None
    return result
