"""A pre-rendered focus stack, and a simulated camera that looks its frames up.

Rendering one live-view frame costs the simulator about 20-35 ms of CPU, so 32 simulated
cameras at 25 fps would need 20-30 cores.  For the pipeline benchmark's real autofocus runs
(:mod:`.afscale`) every camera is instead a :class:`StackCamera`: the simulator's own
:class:`~camera_node.sim.SimCamera` (motor with latency, backlash, jitter and skipped
steps; live-view frame timing; zoom; the gphoto2 facade and the node's backend on top)
whose only change is :meth:`StackCamera.render_jpeg`: the JPEG of the view at the
*nearest rendered* motor position, taken from a stack rendered once by the real renderer
(with sensor noise, several noise draws per position, used in turn).  A frame the stack
does not hold (another view) is rendered for real and counted in :attr:`StackCamera.missed`.
Each body may be given a ``phase`` (a fraction of a frame period added to its mirror-up
time) so that cameras started together do not deliver their frames in the same instant:
real bodies free-run on their own clocks.

The grid is fine where the search looks closely and coarse elsewhere: at 1x every
``coarse_step`` steps over the whole travel; at the magnified view (centred on the region,
as ``default`` asks for it) every step within ``fine_half`` of the true focus of the
region, every 4 steps out to ``mid_half``, every 16 beyond.

Errors: :func:`load_stack` raises ``ValueError`` for a file that is not a stack.
"""

from __future__ import annotations

import bisect
import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import msgpack

from camera_node.clock import Clock, VirtualClock
from camera_node.sim.camera import SimCamera
from camera_node.sim.optics import View
from camera_node.sim.scene import SceneData

STACK_VERSION = 1
VARIANTS = 3  # noise draws per position


@dataclass(frozen=True, slots=True)
class Grid:
    """Which positions to render (level-1 steps from the near end stop)."""

    coarse_step: float = 4.0
    fine_half: float = 48.0
    mid_half: float = 200.0
    variants: int = VARIANTS

    def coarse(self, travel: float) -> list[float]:
        n = int(travel // self.coarse_step)
        return sorted({*(i * self.coarse_step for i in range(n + 1)), travel})

    def fine(self, travel: float, focus: float) -> list[float]:
        out: set[float] = set()
        for step, half in ((1.0, self.fine_half), (4.0, self.mid_half), (16.0, travel)):
            k = int(half // step)
            for i in range(-k, k + 1):
                p = round(focus) + i * step
                if 0.0 <= p <= travel:
                    out.add(float(p))
        return sorted(out | {0.0, travel})


@dataclass(frozen=True, slots=True)
class StackView:
    key: tuple[object, ...]
    zoom: int
    positions: list[float]
    frames: list[list[bytes]]  # per position, ``variants`` JPEGs

    def nearest(self, position: float) -> list[bytes]:
        i = bisect.bisect_left(self.positions, position)
        if i == len(self.positions) or (
            i > 0 and position - self.positions[i - 1] <= self.positions[i] - position
        ):
            i -= 1
        return self.frames[i]


@dataclass(frozen=True, slots=True)
class Stack:
    scene: str
    roi: tuple[float, float, float, float]
    focus: float  # the region's true focus (for the success criterion)
    travel: float
    views: dict[tuple[object, ...], StackView]

    @property
    def frame_count(self) -> int:
        return sum(len(v) for sv in self.views.values() for v in sv.frames)


class StackCamera(SimCamera):
    """A :class:`SimCamera` whose live-view frames come from a :class:`Stack` (see the module)."""

    def __init__(
        self, scene: SceneData, stack: Stack, *, clock: Clock, seed: int, phase: float = 0.0
    ) -> None:
        super().__init__(scene, clock=clock, seed=seed)
        self.stack = stack
        self.phase = phase  # seconds added to the mirror-up time: where this body's frame slots fall
        self.served = 0
        self.missed = 0

    def body_set_liveview(self, on: bool) -> None:
        was = self.liveview
        super().body_set_liveview(on)
        if on and not was:  # free-running bodies: their frame slots are not aligned
            self.live_ready_at += self.phase

    def render_jpeg(self, position: float, view: View, *, noise: bool = True) -> bytes:
        sv = self.stack.views.get(view.key)
        if sv is None:
            self.missed += 1
            return super().render_jpeg(position, view, noise=noise)
        self.served += 1
        variants = sv.nearest(position)
        return variants[self._frame_index % len(variants)]


def fine_view(scene: str, roi: Sequence[float], zoom: int) -> tuple[int, tuple[int, int]]:
    """The zoom and top-left corner the node's backend sets for ``zoom`` centred on ``roi``
    (as ``default`` asks), found by asking a simulated body through that backend."""
    from camera_node.backends.sim import open_sim_backend

    backend = open_sim_backend(scene, seed=1, clock=VirtualClock())
    backend.open()
    backend.liveview_start()
    backend.zoom_set(zoom, (roi[0] + roi[2] / 2, roi[1] + roi[3] / 2))
    sim = backend.sim
    out = (int(sim.zoom), (int(sim.zoom_xy[0]), int(sim.zoom_xy[1])))
    backend.close()
    return out


def _render_part(
    scene: str, zoom: int, xy: tuple[int, int], positions: list[float], variants: int, seed: int
) -> tuple[tuple[object, ...], list[list[bytes]]]:
    """Render ``variants`` noisy JPEGs at each position (runs in a worker process)."""
    from camera_node.sim import open_sim

    sim, _ = open_sim(scene, clock=VirtualClock(), seed=seed)
    view = sim.view_for(zoom, xy)
    frames = [[sim.render_jpeg(p, view) for _ in range(variants)] for p in positions]
    return view.key, frames


def render_stack(
    scene: str, roi: Sequence[float], *, fine_zoom: int = 5, grid: Grid | None = None, workers: int = 2
) -> Stack:
    """Render the stack for ``scene`` and ``roi`` on ``workers`` processes."""
    from camera_node.sim import open_sim

    grid = grid or Grid()
    sim, _ = open_sim(scene, clock=VirtualClock(), seed=1)
    travel = float(sim.spec.motor.range)
    roi4 = (float(roi[0]), float(roi[1]), float(roi[2]), float(roi[3]))
    focus = float(sim.best_position(roi4))
    zoom, xy = fine_view(scene, roi4, fine_zoom)
    plans: list[tuple[int, tuple[int, int], list[float]]] = [(1, (0, 0), grid.coarse(travel))]
    if zoom > 1:
        plans.append((zoom, xy, grid.fine(travel, focus)))
    jobs = []
    for z, at, positions in plans:
        for k in range(workers):  # interleaved, so each worker gets a share of every view
            jobs.append((z, at, positions[k::workers]))
    views: dict[tuple[object, ...], StackView] = {}
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futs = [
            (z, pos, pool.submit(_render_part, scene, z, at, pos, grid.variants, 100 + i))
            for i, (z, at, pos) in enumerate(jobs)
        ]
        parts: dict[tuple[object, ...], list[tuple[float, list[bytes]]]] = {}
        zooms: dict[tuple[object, ...], int] = {}
        for z, pos, fut in futs:
            key, frames = fut.result()
            parts.setdefault(key, []).extend(zip(pos, frames, strict=True))
            zooms[key] = z
    for key, items in parts.items():
        items.sort(key=lambda it: it[0])
        views[key] = StackView(key, zooms[key], [p for p, _ in items], [f for _, f in items])
    return Stack(scene, roi4, focus, travel, views)


def save_stack(path: Path, stack: Stack) -> None:
    doc = {
        "version": STACK_VERSION,
        "scene": stack.scene,
        "roi": list(stack.roi),
        "focus": stack.focus,
        "travel": stack.travel,
        "views": [
            {"key": list(v.key), "zoom": v.zoom, "positions": v.positions, "frames": v.frames}
            for v in stack.views.values()
        ],
    }
    path.write_bytes(msgpack.packb(doc))


def load_stack(path: Path) -> Stack:
    """The stack saved at ``path``.  Raises ValueError when it is not one."""
    doc = cast(dict[str, Any], msgpack.unpackb(path.read_bytes()))
    if not isinstance(doc, dict) or doc.get("version") != STACK_VERSION:
        raise ValueError(f"{path} is not a focus stack (version {STACK_VERSION})")
    views = {}
    for v in doc["views"]:
        key = tuple(v["key"])
        views[key] = StackView(key, int(v["zoom"]), [float(p) for p in v["positions"]], v["frames"])
    r = doc["roi"]
    return Stack(
        str(doc["scene"]),
        (float(r[0]), float(r[1]), float(r[2]), float(r[3])),
        float(doc["focus"]),
        float(doc["travel"]),
        views,
    )
