"""A small, pure "motor + focus curve" simulator and shell for testing searches.

Not the real simulated camera: no images, no JPEG.  A motor with the documented
imperfections (jitter, level-1 skips, direction asymmetry, backlash, end stops, timing),
a focus curve given as a function, frames every 40 ms whose headers carry ``move_id`` and
``settled`` as a node would stamp them, and a loop that carries out a strategy's commands
one move at a time.  Deterministic by seed.

With ``moving=True`` the motor moves in time as ``camera_node.sim.motor`` does (a move
starts after the latency, the lens stands while the gear takes up its slack, then moves at
the part's speed), each frame shows the lens ``lag`` seconds before its moment, and its
header carries ``travel`` from the node's own model (:class:`camera_node.motion.MoveTracker`),
so a search can score frames taken while the motor moves.  Without it, frames show where
the last move will leave the lens and carry no ``travel`` (an older node).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from camera_node.motion import MoveTracker
from controller.search import Command, Done, Drive, Failed, Observation, Strategy, Zoom

Curve = Callable[[float, int, int], float]  # (true position, zoom, scale) -> noise-free measure
# (true position, zoom, zoom centre or None, n) -> a region's n x n noise-free tile energies
Tiles = Callable[[float, int, "tuple[float, float] | None", int], list[float]]

SIZES = (1.0, 6.4, 47.0)
DURATIONS = (0.05, 0.08, 0.25)


def lorentz(
    focus: float, *, floor: float = 0.05, widths: dict[tuple[int, int], float] | None = None
) -> Curve:
    """A peak at ``focus`` whose width depends on the view: broad at 1x and coarse scales."""
    table = widths or {}

    def curve(p: float, zoom: int, scale: int) -> float:
        w = table.get((zoom, scale), scale * (20.0 if zoom == 1 else 31.25 / zoom))
        u = (p - focus) / w
        return floor + 1.0 / (1.0 + u * u)

    return curve


def double_peak(a: float, b: float, weight_b: float) -> Curve:
    pa, pb = lorentz(a, floor=0.0), lorentz(b, floor=0.0)
    return lambda p, z, s: 0.05 + pa(p, z, s) + weight_b * pb(p, z, s)


def flat(value: float = 1.0) -> Curve:
    return lambda p, z, s: value


@dataclass
class SynthCamera:
    curve: Curve
    start: float = 300.0
    seed: int = 1
    travel: float = 800.0
    jitter: float = 0.05
    skip: float = 0.03
    asymmetry: float = 0.04
    backlash: float = 4.0
    noise: float = 0.005
    fps: float = 25.0
    zoom_levels: tuple[int, ...] = (1, 5, 10)
    tiles: Tiles | None = None  # given: the measure is the sum of the tiles, as tile_energy's is
    moving: bool = False  # the motor moves in time and frames carry ``travel`` (see the module)
    lag: float = 0.04  # with ``moving``: how long before its moment a frame shows the lens
    position: float = field(init=False)
    t: float = field(init=False, default=0.0)
    move_id: int = field(init=False, default=0)
    zoom: int = field(init=False, default=1)
    center: tuple[float, float] | None = field(init=False, default=None)
    busy_until: float = field(init=False, default=0.0)
    settle_at: float = field(init=False, default=0.0)
    last_dir: str | None = field(init=False, default=None)
    slack: float = field(init=False, default=0.0)  # dead band still to cross since the last reversal
    seq: int = field(init=False, default=0)
    drives: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.position = self.start
        self.rng = random.Random(self.seed)
        self.moves: list[tuple[float, float, float, float]] = []  # (t0, t1, from, to)
        self.tracker = MoveTracker()

    def position_at(self, t: float) -> float:
        """Where the lens is at ``t`` (``moving``): on its way through the planned moves."""
        for t0, t1, p0, p1 in self.moves:
            if t < t0:
                return p0
            if t < t1:
                return p0 + (t - t0) / (t1 - t0) * (p1 - p0)
        return self.position

    def drive(self, cmd: Drive) -> int:
        self.move_id += 1
        self.drives += 1
        self.tracker.accept(self.t, cmd.count)
        for _ in range(cmd.count):
            self.t += 0.1  # the None toggle
            self.tracker.drive_issued(cmd.direction, cmd.level, self.t)
            size = SIZES[cmd.level - 1]
            if cmd.level == 1 and self.rng.random() < self.skip:
                size = 0.0
            size *= max(0.0, 1 + self.jitter * self.rng.gauss(0, 1))
            size *= 1 + self.asymmetry / 2 if cmd.direction == "far" else 1 - self.asymmetry / 2
            # Backlash is a dead band, as in camera_node.sim.motor: a reversal first crosses
            # what is left of it, and a move shorter than that leaves the rest for the next.
            if self.last_dir is not None and cmd.direction != self.last_dir:
                self.slack = max(0.0, self.backlash - self.slack)
            self.last_dir = cmd.direction
            taken = min(size, self.slack)
            size -= taken
            self.slack -= taken
            sign = 1.0 if cmd.direction == "far" else -1.0
            before = self.position
            self.position = min(max(self.position + sign * size, 0.0), self.travel)
            start = max(self.t + 0.03, self.busy_until)
            self.busy_until = start + DURATIONS[cmd.level - 1]
            if self.position != before:
                speed = (size + taken) / DURATIONS[cmd.level - 1]
                t0 = start + taken / speed
                self.moves.append((t0, t0 + abs(self.position - before) / speed, before, self.position))
                self.moves = self.moves[-32:]
        self.settle_at = self.busy_until + 0.06
        return self.move_id

    def set_zoom(self, cmd: Zoom) -> int:
        self.move_id += 1
        self.tracker.accept(self.t, 1)
        self.tracker.zoom_issued(self.t)
        self.zoom = cmd.level
        self.center = cmd.center
        self.settle_at = max(self.settle_at, self.t + 0.3)
        return self.move_id

    def frame(self, scale: int, n: int = 0) -> Observation:
        period = 1.0 / self.fps
        self.t = (math.floor(self.t / period + 1e-9) + 1) * period
        self.seq += 1
        shown = self.position_at(self.t - self.lag) if self.moving else self.position
        tiles: tuple[float, ...] = ()
        if self.tiles is not None:
            gain = 1 + self.noise * self.rng.gauss(0, 1)
            grid = self.tiles(shown, self.zoom, self.center, max(n, 1))
            noisy = [max(0.0, v * gain * (1 + self.noise * self.rng.gauss(0, 1))) for v in grid]
            value = sum(noisy)
            tiles = tuple(noisy) if n else ()
        else:
            value = self.curve(shown, self.zoom, scale) * (1 + self.noise * self.rng.gauss(0, 1))
        return Observation(
            seq=self.seq,
            t=self.t,
            move_id=self.move_id,
            settled=self.t >= self.settle_at,
            zoom=self.zoom,
            measure=max(0.0, value),
            scale=scale,
            tiles=tiles,
            travel=self.tracker.travel(self.t) if self.moving else None,
        )


@dataclass
class Outcome:
    end: Done | Failed
    camera: SynthCamera
    commands: list[Command]
    frames: int


def run(s: Strategy, cam: SynthCamera, *, time_limit: float = 120.0) -> Outcome:
    """Carry out strategy ``s`` on ``cam`` as a node plus controller would, until it ends."""
    todo: list[Command] = s.start(cam.t)
    log: list[Command] = []
    frames = 0
    while True:
        while todo:
            cmd = todo.pop(0)
            log.append(cmd)
            if isinstance(cmd, Drive):
                todo.extend(s.moved(cam.drive(cmd), cam.t))
            elif isinstance(cmd, Zoom):
                todo.extend(s.moved(cam.set_zoom(cmd), cam.t))
            else:
                return Outcome(cmd, cam, log, frames)
        if cam.t > time_limit:
            raise AssertionError(f"no result in {time_limit} s; commands so far: {log[-5:]}")
        obs = cam.frame(s.wanted_scale, s.wanted_tiles)
        frames += 1
        todo = s.feed(obs, cam.t)
