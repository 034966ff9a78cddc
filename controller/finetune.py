"""``finetune``: a short fine autofocus around where the motor already is (sans-IO).

After ``focus.goto`` to a stored preset the lens is close to focus but not on it: dead
reckoning drifts (level-1 drives skip, travel differs by direction, backlash).  This search
absorbs that drift without the full search's coarse stage:

1. ``ZOOM``: magnified live view (``zoom``, centred on the region) when the camera has it.
2. ``SCAN``: drive near by ``window`` + one step (taking up the backlash with the first far
   step), then step far in level-2 drives, one sample per step, until the measure has
   fallen clearly past its best sample and at least ``min_samples`` were taken.  A best
   sample at the near edge shifts the window near (at most ``max_shifts`` times); a scan
   that keeps rising shifts it far.
3. ``FIT``: a parabola through log(measure) of the samples around the best one (a Gaussian
   peak); its centre must lie inside the samples.
4. ``APPROACH``: near past the centre by ``overscan``, then far by ``overscan``: the last
   move is towards far, as every scan move was, so backlash cancels.

``Done.position`` is the landing relative to where the run started, in level-1 units: the
*drift* of the preset.  Transitions (state, outcome) -> state are the table
:data:`TRANSITIONS`; any failure drives back to the start and restores the zoom.

Errors: the constructor raises ``ValueError`` for a bad option.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np

from controller.search._types import Command, Direction, Done, Drive, Failed, Move, Observation, Zoom

LEVEL_SIZES = (1.0, 6.4, 47.0)


class S(enum.Enum):
    SCAN = "fine"
    APPROACH = "approach"
    DONE = "done"
    FAILED = "failed"


TRANSITIONS: dict[tuple[S, str], S] = {
    (S.SCAN, "step"): S.SCAN,
    (S.SCAN, "shift"): S.SCAN,
    (S.SCAN, "fitted"): S.APPROACH,
    (S.SCAN, "no_peak"): S.FAILED,
    (S.SCAN, "poor_fit"): S.FAILED,
    (S.APPROACH, "landed"): S.DONE,
    (S.SCAN, "cancelled"): S.FAILED,
    (S.APPROACH, "cancelled"): S.FAILED,
}


def plan(delta: float, sizes: Sequence[float] = LEVEL_SIZES) -> list[Drive]:
    """Drives, coarsest first and all one way, that move ``delta`` nominal level-1 units."""
    direction: Direction = "far" if delta > 0 else "near"
    rest = abs(delta)
    out: list[Drive] = []
    for level in (3, 2, 1):
        size = sizes[level - 1]
        n = math.floor(rest / size + 0.5) if level == 1 else math.floor(rest / size + 1e-9)
        if n > 0:
            out.append(Drive(direction, level, n))
            rest -= n * size
    return out


def fit_log_parabola(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """Centre and peak of a Gaussian through (x, y > 0), or None without a maximum."""
    if len(xs) < 3 or min(ys) <= 0:
        return None
    a, b, c = np.polyfit(np.asarray(xs, float), np.log(np.asarray(ys, float)), 2)
    if not a < 0:
        return None
    center = float(-b / (2 * a))
    return center, float(math.exp(c - b * b / (4 * a)))


class FineTune:
    """The short fine search; implements :class:`controller.search.Strategy`."""

    name = "finetune"

    def __init__(
        self,
        *,
        zoom_levels: Sequence[int] = (1,),
        roi_center: tuple[float, float] = (0.5, 0.5),
        zoom: int = 5,
        scale: int = 4,
        window: float = 19.2,
        step_parts: int = 1,
        min_samples: int = 5,
        frames_per_sample: int = 2,
        fall: float = 0.03,
        overscan: float = 12.8,
        max_shifts: int = 2,
        level_sizes: Sequence[float] = LEVEL_SIZES,
    ) -> None:
        if window <= 0 or step_parts < 1 or min_samples < 3 or frames_per_sample < 1:
            raise ValueError("window > 0, step_parts >= 1, min_samples >= 3, frames_per_sample >= 1")
        self.levels = tuple(float(v) for v in level_sizes)
        self.fine_zoom = zoom if zoom in zoom_levels else 1
        self.roi_center = roi_center
        self._scale = scale
        self.window = window
        self.step_parts = step_parts
        self.step = step_parts * self.levels[1]
        self.min_samples = min_samples
        self.frames_per_sample = frames_per_sample
        self.fall = fall
        self.overscan = overscan
        self.max_shifts = max_shifts
        self.state = S.SCAN
        self.pos = 0.0  # nominal, level-1 units from the start
        self.zoom: int | None = None
        self.start_zoom: int | None = None
        self.samples: list[tuple[float, float]] = []
        self.center: float | None = None
        self.shifts = 0
        self.started = False
        self.finished = False
        self._queue: list[Move] = []
        self._terminal: Done | Failed | None = None
        self._pending = False
        self._floor = 0
        self._acc: list[float] = []
        self._last: Observation | None = None
        self._t0 = 0.0
        self._scan_from = 0.0

    # -- Strategy protocol -------------------------------------------------------------------
    @property
    def wanted_scale(self) -> int:
        return self._scale

    @property
    def phase(self) -> str:
        return self.state.value

    @property
    def position(self) -> float:
        return self.pos

    def start(self, now: float) -> list[Command]:
        if self.started:
            return []
        self.started = True
        self._t0 = now
        return []  # the first frame tells the zoom; the scan starts from there

    def moved(self, move_id: int, now: float) -> list[Command]:
        if not self._pending or self.finished:
            return []
        self._pending = False
        self._floor = move_id
        return self._send()

    def feed(self, obs: Observation, now: float) -> list[Command]:
        if not self.started or self.finished:
            return []
        if self.start_zoom is None:
            self.zoom = self.start_zoom = obs.zoom
            self._last = obs
            return self._begin()
        if self._pending or self._queue or obs.move_id < self._floor or not obs.settled:
            return []
        if obs.zoom != self.zoom or obs.scale != self._scale:
            return []
        self._last = obs
        self._acc.append(obs.measure)
        if len(self._acc) < self.frames_per_sample:
            return []
        m = sum(self._acc) / len(self._acc)
        self._acc = []
        if self.state is S.SCAN:
            return self._on_scan(m, now)
        return self._on_landing(m, now)

    def cancel(self, now: float) -> list[Command]:
        if not self.started or self.finished:
            return []
        return self._fail("cancelled", "cancelled on request", now)

    def move_failed(self, detail: str, now: float) -> list[Command]:
        if self.finished:
            return []
        self._pending = False
        self._queue.clear()
        self.finished = True
        self.state = S.FAILED
        return [Failed("camera_error", detail, self._metrics(now))]

    # -- the search ----------------------------------------------------------------------------
    def _begin(self) -> list[Command]:
        moves: list[Move] = []
        if self.fine_zoom != self.zoom:
            moves.append(Zoom(self.fine_zoom, self.roi_center))
        moves.extend(self._scan_moves(-self.window))
        return self._go(moves)

    def _scan_moves(self, start: float) -> list[Move]:
        """Go near past ``start`` by one step, then far by one step: the first sample follows
        a far move, as every later one does."""
        self.samples = []
        self._scan_from = start
        return [*plan(start - self.step - self.pos, self.levels), Drive("far", 2, self.step_parts)]

    def _on_scan(self, m: float, now: float) -> list[Command]:
        self.samples.append((self.pos, m))
        pts = self.samples
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        cut = pts[i_best][1] * (1.0 - self.fall)
        fallen = any(v < cut for _, v in pts[i_best + 1 :])
        if fallen and i_best == 0:  # the peak lies nearer than the window
            return self._shift(self._scan_from - 2 * self.window, now)
        if fallen and len(pts) >= self.min_samples:
            return self._fit(now)
        if self.pos - self._scan_from > 2 * self.window + 4 * self.window * self.max_shifts:
            self._to("no_peak")
            return self._fail("no_peak", "the measure kept rising across the fine window", now)
        self._to("step")
        return self._go([Drive("far", 2, self.step_parts)])

    def _shift(self, start: float, now: float) -> list[Command]:
        if self.shifts >= self.max_shifts:
            self._to("no_peak")
            return self._fail("no_peak", "the peak lies nearer than the fine window reaches", now)
        self.shifts += 1
        self._to("shift")
        return self._go(self._scan_moves(start))

    def _fit(self, now: float) -> list[Command]:
        pts = self.samples
        i_best = max(range(len(pts)), key=lambda i: pts[i][1])
        around = pts[max(0, i_best - 2) : i_best + 3]
        fit = fit_log_parabola([p for p, _ in around], [v for _, v in around])
        if fit is None or not (around[0][0] <= fit[0] <= around[-1][0]):
            self._to("poor_fit")
            return self._fail("poor_fit", "no peak fits the fine samples", now)
        self.center = fit[0]
        self._to("fitted")
        back = self.pos - self.center
        return self._go([*plan(-(back + self.overscan), self.levels), *plan(self.overscan, self.levels)])

    def _on_landing(self, m: float, now: float) -> list[Command]:
        self._to("landed")
        moves: list[Move] = []
        if self.start_zoom is not None and self.zoom != self.start_zoom:
            moves.append(Zoom(self.start_zoom))
        node_pos = self._last.position if self._last is not None else None
        metrics = {**self._metrics(now), "center": float(self.center or 0.0), "shifts": float(self.shifts)}
        return self._go(moves, Done(self.pos, m, "fit", node_pos, metrics))

    # -- plumbing ------------------------------------------------------------------------------
    def _to(self, outcome: str) -> None:
        self.state = TRANSITIONS[(self.state, outcome)]

    def _metrics(self, now: float) -> dict[str, float]:
        return {"samples": float(len(self.samples)), "seconds": now - self._t0}

    def _fail(self, reason: str, detail: str, now: float) -> list[Command]:
        if self.state not in (S.FAILED, S.DONE):
            self.state = S.FAILED
        self._queue.clear()
        moves: list[Move] = []
        if self.start_zoom is not None and self.zoom != self.start_zoom:
            moves.append(Zoom(self.start_zoom))
        moves.extend(plan(-self.pos, self.levels))
        return self._go(moves, Failed(reason, detail, self._metrics(now)))

    def _go(self, moves: Sequence[Move], terminal: Done | Failed | None = None) -> list[Command]:
        self._acc = []
        self._queue.extend(moves)
        if terminal is not None:
            self._terminal = terminal
        if self._pending:
            return []
        return self._send()

    def _send(self) -> list[Command]:
        if not self._queue:
            if self._terminal is not None and not self.finished:
                self.finished = True
                return [self._terminal]
            return []
        m = self._queue.pop(0)
        if isinstance(m, Drive):
            sign = 1.0 if m.direction == "far" else -1.0
            self.pos += sign * m.count * self.levels[m.level - 1]
        else:
            self.zoom = m.level
        self._pending = True
        out: list[Command] = [m]
        if not self._queue and self._terminal is not None:
            self.finished = True
            out.append(self._terminal)
        return out
