"""Render benchmark: how long one live-view frame takes to render (with noise) and encode.

Two workloads, each timed per frame on one core (render and encode separately):

- ``still``: the motor rests, as it does between focus moves; frames come from the cache
  of noise-free renders, so a frame is noise, flicker and JPEG encoding.
- ``moving``: every frame at a new motor position (a sweep), so every frame renders every
  depth layer afresh.

``moving_numpy_loops`` repeats ``moving`` with numpy's loops instead of the compiled ones
(native.py; the frames are the same), when the compiled ones are built: both in one run.

``stream`` mixes them as an autofocus run does at 25 fps: the position changes on a
fraction ``moving_fraction`` of frames.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from camera_node.clock import VirtualClock
from camera_node.sim import native
from camera_node.sim.camera import SimCamera
from camera_node.sim.stream import encode_frame


@dataclass(frozen=True, slots=True)
class Timing:
    render_ms: list[float]
    encode_ms: list[float]
    sizes: list[int]
    cpu_ms: list[float]  # thread CPU time of render + encode: what the frame costs on a busy machine

    def summary(self) -> dict[str, Any]:
        total = np.array(self.render_ms) + np.array(self.encode_ms)

        def stats(a: Any) -> dict[str, float]:
            a = np.asarray(a, float)
            return {
                "median_ms": round(float(np.median(a)), 3),
                "p90_ms": round(float(np.percentile(a, 90)), 3),
            }

        return {
            "frames": len(self.render_ms),
            "render": stats(self.render_ms),
            "encode": stats(self.encode_ms),
            "total": stats(total),
            "total_cpu": stats(self.cpu_ms),
            "frames_per_s": round(1000.0 / float(np.median(total)), 1),
            "jpeg_kb_median": round(float(np.median(self.sizes)) / 1024, 1),
        }


def time_frames(sim: SimCamera, positions: list[float]) -> Timing:
    """Render (noise included) and encode one live-view frame per position."""
    view = sim.current_view()
    render_ms: list[float] = []
    encode_ms: list[float] = []
    sizes: list[int] = []
    cpu_ms: list[float] = []
    q = sim.spec.stream.jpeg_quality
    for p in positions:
        c0 = time.thread_time()
        t0 = time.perf_counter()
        planes = sim.renderer.render(view, p, sim.f_number)
        ycc = sim.encoder.expose(planes)
        t1 = time.perf_counter()
        data = encode_frame(ycc, q)
        t2 = time.perf_counter()
        cpu_ms.append((time.thread_time() - c0) * 1000)
        render_ms.append((t1 - t0) * 1000)
        encode_ms.append((t2 - t1) * 1000)
        sizes.append(len(data))
    return Timing(render_ms, encode_ms, sizes, cpu_ms)


def bench_render(
    scene: str | None, frames: int = 200, seed: int = 1, zoom: int = 1, moving_fraction: float = 0.2
) -> dict[str, Any]:
    """Run the three workloads on ``scene``; returns a JSON-ready dict."""
    from camera_node.sim import open_sim

    load_before = _loadavg()
    sim, _ = open_sim(scene, clock=VirtualClock(), seed=seed)
    sim.zoom = zoom
    rng = np.random.default_rng(seed)
    rmax = sim.spec.motor.range
    view = sim.current_view()
    t0 = time.perf_counter()
    sim.renderer.model(view)
    setup_ms = (time.perf_counter() - t0) * 1000
    time_frames(sim, [rmax / 2] * 3)  # warm-up: tables, noise pools
    still = time_frames(sim, [rmax / 2] * frames)
    moving = time_frames(sim, list(rng.uniform(0, rmax, frames)))
    stream_pos: list[float] = []
    p = rmax / 2
    for _ in range(frames):
        if rng.random() < moving_fraction:
            p = float(rng.uniform(0, rmax))
        stream_pos.append(p)
    stream = time_frames(sim, stream_pos)
    compiled = native.module() is not None
    numpy_moving = None
    if compiled:  # the same workload in numpy's loops (the same frames, bit for bit), for comparison
        native.use(False)
        try:
            numpy_moving = time_frames(sim, list(rng.uniform(0, rmax, frames))).summary()
        finally:
            native.use(True)
    w, h = sim.spec.optics.liveview
    return {
        "scene": sim.spec.name,
        "size": [w, h],
        "host": host(),
        "zoom": zoom,
        "layers": len(sim.renderer.model(view).layers),
        "compiled_loops": compiled,
        "view_setup_ms": round(setup_ms, 1),
        "loadavg_1min": {"before": load_before, "after": _loadavg()},  # other work on a shared machine
        "still": still.summary(),
        "moving": moving.summary(),
        "stream": {"moving_fraction": moving_fraction, **stream.summary()},
        "moving_numpy_loops": numpy_moving,
    }


REFERENCE_SHAPE = (704, 1024)  # a 960 x 640 view with its margin: the luminance grid


def host() -> dict[str, Any]:
    """What the figures were taken on: the CPU, and the CPU ms of a fixed reference workload
    (an inverse rfft2 of a complex64 spectrum on the 1x luminance grid, median of 30), so
    that figures taken on different hosts can be compared."""
    rng = np.random.default_rng(0)
    spec = np.fft.rfft2(rng.standard_normal(REFERENCE_SHAPE, dtype=np.float32)).astype(np.complex64)
    times = []
    for _ in range(31):
        c0 = time.thread_time()
        np.fft.irfft2(spec, s=REFERENCE_SHAPE)
        times.append((time.thread_time() - c0) * 1000)
    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "reference_ms": round(float(np.median(times[1:])), 3),
    }


def _cpu_model() -> str | None:
    """The CPU's model name (Linux's /proc/cpuinfo; None elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _loadavg() -> float | None:
    """The machine's 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def bench_capture(
    scene: str | None, positions: list[float], seed: int = 1, size: tuple[int, int] | None = None
) -> dict[str, Any]:
    """Render and JPEG-encode one full-resolution capture per motor position (as the node's
    ``file_get`` does); returns a JSON-ready dict with the CPU and wall time of each."""
    from dataclasses import replace

    from camera_node.sim import open_sim
    from camera_node.sim.camera import CAPTURE_JPEG_QUALITY
    from camera_node.sim.capture import capture_layers, render_capture
    from camera_node.sim.optics import blur_rate_px, capture_view

    load_before = _loadavg()
    sim, _ = open_sim(scene, clock=VirtualClock(), seed=seed)
    data = sim.scene
    if size is not None:
        data = replace(data, spec=replace(data.spec, optics=replace(data.spec.optics, capture=size)))
    optics = data.spec.optics
    rate = blur_rate_px(optics, capture_view(optics), sim.f_number)
    shots = []
    for p in positions:
        c0, t0 = time.process_time(), time.perf_counter()
        jpeg = render_capture(data, p, sim.f_number, sim.seed, CAPTURE_JPEG_QUALITY)
        shots.append(
            {
                "position": p,
                "layers": len(capture_layers(data.focus, rate, p)),
                "cpu_s": round(time.process_time() - c0, 3),
                "wall_s": round(time.perf_counter() - t0, 3),
                "jpeg_kb": round(len(jpeg) / 1024, 1),
            }
        )
    return {
        "scene": data.spec.name,
        "size": list(optics.capture),
        "f_number": sim.f_number,
        "loadavg_1min": {"before": load_before, "after": _loadavg()},
        "captures": shots,
        "median_cpu_s": round(float(np.median([s["cpu_s"] for s in shots])), 3),
    }
