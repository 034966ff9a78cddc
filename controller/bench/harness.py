"""One benchmark run: a strategy against the simulated camera, in virtual time.

The run is what a node plus a controller would do, in one thread and without sockets:

- the camera is :func:`camera_node.sim.open_sim` behind :class:`GPhoto2Backend`, so drives
  go through the same ``manualfocusdrive`` None toggle (100 ms of clock each) and zoom
  through ``eoszoom``/``eoszoomposition``;
- :class:`camera_node.motion.MoveTracker` stamps each frame's ``move_id``, ``settled``,
  ``position`` and ``travel`` exactly as the node does, ``settled`` as of when the frame is
  asked for;
- frames come from ``preview()``, which blocks on the clock until the next frame (25 fps);
  while the tracker says the motor is still moving the harness lets the clock run to the
  settle estimate and asks for the frame there, as the node does, instead of decoding
  frames every search would ignore (the frame grid, and so the timing, is the same);
  unless the strategy ``wants_moving``: then every frame is taken, and those the tracker
  places along the move (``travel``) are fed too;
- each frame fed is decoded at the strategy's ``wanted_scale`` (in the magnified view when
  zoomed) and measured;
- every command costs ``COMMAND_LATENCY_S`` of clock for the round trip to the node.

Truth (where focus really is) is read from the simulator only after the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from camera_node.backends.gphoto2 import TOGGLE_GAP_S, GPhoto2Backend
from camera_node.clock import VirtualClock
from camera_node.config import TRAVEL_CALL_S
from camera_node.motion import MoveTracker
from camera_node.sim import SimCamera, open_sim, resolve_scene
from camera_node.sim.scene import OpticsParams
from camera_node.sim.truth import best_position_at
from controller import measures
from controller.bench.cases import Case
from controller.observe import score_region
from controller.search import (
    Command,
    Done,
    Drive,
    Failed,
    Observation,
    Strategy,
    Zoom,
    create_calibration,
    create_strategy,
    recall_options,
    with_landing_top,
)
from controller.search._machine import plan_drives
from controller.search.calibrate import DISTANCE, TRIALS

COMMAND_LATENCY_S = 0.005
TIME_LIMIT_S = 180.0


@dataclass(frozen=True, slots=True)
class RunResult:
    case: str
    repeat: int
    strategy: str
    success: bool
    final_position: float
    truth: float
    abs_error_steps: float
    tolerance_steps: float
    drives: int
    motor_moves: int
    zooms: int
    frames: int
    seconds: float
    failure: str | None
    detail: str
    start: float
    metrics: dict[str, float] | None = None
    truth_5x: float | None = None  # the truth with the sharp image sampled as at 5x

    @property
    def well_posed(self) -> bool:
        """Whether the truth is defined to within half the tolerance: sampling the sharp
        image as the 1x or the 5x live view does moves it by no more than that."""
        return self.truth_5x is None or abs(self.truth_5x - self.truth) <= self.tolerance_steps / 2

    @property
    def travel_seconds(self) -> float:
        """The floor for any search on this run: :func:`travel_seconds` from start to truth."""
        return travel_seconds(self.truth - self.start)

    @property
    def spans_depth(self) -> bool:
        """Whether the search reported that the region's parts come into focus too far apart
        for all of it to be sharp (``Default.spans_depth``)."""
        return bool((self.metrics or {}).get("spans_depth", 0.0))

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "repeat": self.repeat,
            "success": self.success,
            "final_position": round(self.final_position, 3),
            "truth": round(self.truth, 3),
            "abs_error_steps": round(self.abs_error_steps, 3),
            "tolerance_steps": round(self.tolerance_steps, 3),
            "drives": self.drives,
            "motor_moves": self.motor_moves,
            "zooms": self.zooms,
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "failure": self.failure,
            "detail": self.detail,
            "start": round(self.start, 3),
            "metrics": {k: round(v, 4) for k, v in (self.metrics or {}).items()},
            "truth_5x": None if self.truth_5x is None else round(self.truth_5x, 3),
            "well_posed": self.well_posed,
            "spans_depth": self.spans_depth,
            "travel_seconds": round(self.travel_seconds, 3),
        }


def travel_seconds(distance: float) -> float:
    """Seconds from the first command until the node calls the motor settled, for a search
    that knew where focus is and drove ``distance`` level-1 steps straight there: the drives
    :func:`~controller.search._machine.plan_drives` makes (level 3, then 2, then 1), each
    command :data:`COMMAND_LATENCY_S` after the last and each drive at least the node's
    :data:`~camera_node.backends.gphoto2.TOGGLE_GAP_S` after the one before, timed by the
    node's own model (:class:`~camera_node.motion.MoveTracker`).  No frame is waited for."""
    tracker = MoveTracker()
    t, last = 0.0, None
    for drive in plan_drives(distance):
        t += COMMAND_LATENCY_S
        for _ in range(drive.count):
            t = t if last is None else max(t, last + TOGGLE_GAP_S)
            tracker.drive_issued(drive.direction, drive.level, t)
            last = t
    return 0.0 if last is None else tracker.settle_at


def tolerance_steps(optics: OpticsParams) -> float:
    """Defocus (level-1 steps) at which the full-resolution blur circle reaches 2 pixels."""
    pitch_um = optics.sensor_width_mm * 1000.0 / optics.capture[0]
    return 2.0 * pitch_um * optics.f_number / optics.defocus_um_per_step


class _Session:
    """One simulated camera behind the node's backend and motion model, in virtual time,
    on which searches run one after another (:meth:`carry_out`)."""

    def __init__(self, case: Case, repeat: int, measure: str, trace: list[str] | None) -> None:
        self.case = case
        self.clock = VirtualClock()
        base_seed = resolve_scene(case.scene).seed if case.seed is None else case.seed
        self.sim, gp = open_sim(case.scene, clock=self.clock, seed=base_seed + repeat)
        if case.start is not None:
            self.sim.set_true_position(case.start)
        self.start = self.sim.true_position()
        self.backend = GPhoto2Backend(gp, self.clock, sensor_size=self.sim.spec.optics.capture)
        self.info = self.backend.open()
        self.backend.liveview_start()  # raises the mirror: the first frame waits for it
        self.m = measures.get(measure)
        self.tracker = MoveTracker()
        self.zoom, self.center = 1, (0.5, 0.5)
        self.trace = trace
        self.drives = self.motor_moves = self.zooms = self.frames = 0
        self.seq = 0

    def carry_out(self, strategy: Strategy, time_limit_s: float) -> tuple[Done | Failed, float]:
        """Run ``strategy`` to its end; the end and the virtual seconds it took."""
        clock, sim, backend, tracker, case = self.clock, self.sim, self.backend, self.tracker, self.case
        trace = self.trace
        t0 = clock.now()
        todo: list[Command] = strategy.start(t0)
        end: Done | Failed | None = None
        while end is None:
            while todo and end is None:
                cmd = todo.pop(0)
                if trace is not None:
                    trace.append(f"{clock.now() - t0:7.3f} true={sim.true_position():7.2f} {cmd}")
                if isinstance(cmd, Drive):
                    clock.sleep(COMMAND_LATENCY_S)
                    move_id = tracker.accept(clock.now(), parts=cmd.count)
                    for _ in range(cmd.count):
                        backend.focus_drive(cmd.direction, cmd.level)
                        tracker.drive_issued(cmd.direction, cmd.level, clock.now())
                    self.drives += 1
                    self.motor_moves += cmd.count
                    todo.extend(strategy.moved(move_id, clock.now()))
                elif isinstance(cmd, Zoom):
                    clock.sleep(COMMAND_LATENCY_S)
                    move_id = tracker.accept(clock.now(), parts=1)
                    c = cmd.center or (0.5, 0.5)
                    backend.zoom_set(cmd.level, c)
                    tracker.zoom_issued(clock.now())
                    self.zoom, self.center = cmd.level, c
                    self.zooms += 1
                    todo.extend(strategy.moved(move_id, clock.now()))
                else:
                    end = cmd
            if end is not None:
                break
            if clock.now() - t0 > time_limit_s:
                end = Failed("timeout", f"no result in {time_limit_s:g} s of virtual time")
                break
            asked = clock.now()
            moving = strategy.wants_moving
            due = None if moving else tracker.settle_due(asked)
            if due is not None:
                clock.sleep(due - asked)
                asked = max(clock.now(), due)  # the clock's sum may fall an ulp short
            jpeg, _w, _h = backend.preview()
            self.seq += 1
            t = clock.now()
            settled = tracker.settled(asked)  # judged when asked for, as the node does
            travel = tracker.travel(t) if t - asked <= TRAVEL_CALL_S else None  # as the node does
            if not settled and not (moving and travel is not None):
                continue
            scale, n, k = strategy.wanted_scale, strategy.wanted_tiles, strategy.wanted_coarse
            value, tiles, low = score_region(
                jpeg,
                case.roi,
                zoom=self.zoom,
                center=self.center,
                scale=scale,
                measure=self.m.name,
                tiles=n,
                coarse=k,
            )
            self.frames += 1
            obs = Observation(
                self.seq,
                t,
                tracker.move_id,
                settled,
                self.zoom,
                value,
                scale,
                tracker.position,
                tiles,
                travel,
                low,
            )
            todo = strategy.feed(obs, t)
            if trace is not None:
                phase = getattr(strategy, "state", None)
                where = f"{t - t0:7.3f} true={sim.true_position():7.2f}"
                how = "" if settled else f" moving {travel:+.1f}"
                trace.append(f"{where} frame z{self.zoom} s{scale} {value:.5g} {phase}{how}")
        return end, clock.now() - t0

    def landing_top(self, search: Strategy) -> float | None:
        """The region's measure on the frame now (the view back at 1x after ``search``
        landed), at its coarse scale, as the runner scores it for a refocus's memory
        (:func:`controller.search.with_landing_top`); None unless at 1x."""
        scale = getattr(search, "coarse_scale", None)
        if self.zoom != 1 or not isinstance(scale, int):
            return None
        jpeg, _w, _h = self.backend.preview()
        return score_region(jpeg, self.case.roi, zoom=1, scale=scale, measure=self.m.name).value

    def settle(self) -> float:
        """Let the last drives finish; the true position then."""
        self.clock.sleep(max(0.0, self.sim.motor.busy_until() - self.clock.now()) + 0.01)
        return self.sim.true_position()


def run_case(
    case: Case,
    repeat: int,
    strategy_name: str,
    *,
    measure: str = measures.DEFAULT,
    options: dict[str, Any] | None = None,
    time_limit_s: float = TIME_LIMIT_S,
    trace: list[str] | None = None,
) -> RunResult:
    """Run ``strategy_name`` once on ``case`` with seed (case or scene seed) + ``repeat``.

    A case with a ``drift`` is focused first (``default``, not counted), then the motor is
    moved by the drift; the run starts there, and ``refocus`` recalls the first run."""
    run = _Session(case, repeat, measure, trace)
    sim = run.sim
    options = dict(options or {})
    if case.drift is not None:
        first = create_strategy(
            "default", zoom_levels=run.info.zoom_levels, capabilities=run.info.capabilities, roi=case.roi
        )
        focused, _ = run.carry_out(first, time_limit_s)
        run.settle()
        run.clock.sleep(max(0.0, run.tracker.settle_at - run.clock.now()))  # the zoom back, too
        top = run.landing_top(first)
        sim.displace(case.drift)
        run.start = sim.true_position()
        run.drives = run.motor_moves = run.zooms = run.frames = 0
        if strategy_name == "refocus":
            options = {**with_landing_top(recall_options(focused.metrics), top), **options}
        if trace is not None:
            trace.append(f"-- focused ({focused}); displaced by {case.drift:+g} to {run.start:.2f}")
    strategy = create_strategy(
        strategy_name,
        zoom_levels=run.info.zoom_levels,
        capabilities=run.info.capabilities,
        roi=case.roi,
        **options,
    )
    end, seconds = run.carry_out(strategy, time_limit_s)
    final = run.settle()
    truth = sim.best_position(case.roi)
    truth_5x = _truth_5x(case, sim)
    tol = tolerance_steps(sim.spec.optics)
    err = abs(final - truth)
    ok = isinstance(end, Done) and err <= tol
    return RunResult(
        case=case.name,
        repeat=repeat,
        strategy=strategy_name,
        success=ok,
        final_position=final,
        truth=truth,
        abs_error_steps=err,
        tolerance_steps=tol,
        drives=run.drives,
        motor_moves=run.motor_moves,
        zooms=run.zooms,
        frames=run.frames,
        seconds=seconds,
        failure=end.reason if isinstance(end, Failed) else None,
        detail=end.detail if isinstance(end, Failed) else end.reason,
        start=run.start,
        metrics=dict(end.metrics),
        truth_5x=truth_5x,
    )


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """``default`` from the case's start, then ``calibrate`` from where it landed."""

    case: str
    repeat: int
    truth: float  # the simulated lens's asymmetry
    asymmetry: float | None  # measured; None when either run failed
    se: float | None
    seconds: float  # virtual: the calibration alone
    focus_seconds: float
    failure: str | None  # "focus: <reason>" or the calibration's reason
    detail: str

    def as_json(self) -> dict[str, Any]:
        def r4(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(v, 4)

        return {
            "case": self.case,
            "repeat": self.repeat,
            "truth": r4(self.truth),
            "asymmetry": r4(self.asymmetry),
            "se": r4(self.se),
            "error": None if self.asymmetry is None else r4(self.asymmetry - self.truth),
            "seconds": round(self.seconds, 3),
            "focus_seconds": round(self.focus_seconds, 3),
            "failure": self.failure,
            "detail": self.detail,
        }


def run_calibration(
    case: Case,
    repeat: int,
    *,
    trials: int = TRIALS,
    distance: float = DISTANCE,
    measure: str = measures.DEFAULT,
) -> CalibrationResult:
    """``tetherfocus calibrate`` on ``case``, in virtual time: focus, then the calibration."""
    run = _Session(case, repeat, measure, None)
    truth = run.sim.spec.motor.asymmetry
    focus = create_strategy(
        "default", zoom_levels=run.info.zoom_levels, capabilities=run.info.capabilities, roi=case.roi
    )
    end, focus_s = run.carry_out(focus, TIME_LIMIT_S)
    if isinstance(end, Failed):
        return CalibrationResult(
            case.name, repeat, truth, None, None, 0.0, focus_s, f"focus: {end.reason}", end.detail
        )
    cal = create_calibration(
        zoom_levels=run.info.zoom_levels,
        capabilities=run.info.capabilities,
        roi=case.roi,
        trials=trials,
        distance=distance,
    )
    end, seconds = run.carry_out(cal, TIME_LIMIT_S + 60.0 * trials)
    if isinstance(end, Failed):
        return CalibrationResult(
            case.name, repeat, truth, None, None, seconds, focus_s, end.reason, end.detail
        )
    return CalibrationResult(
        case.name,
        repeat,
        truth,
        end.metrics["asymmetry"],
        end.metrics.get("asymmetry_se"),
        seconds,
        focus_s,
        None,
        end.reason,
    )


_TRUTH_5X: dict[tuple[str, tuple[float, ...]], float] = {}


def _truth_5x(case: Case, sim: SimCamera) -> float:
    """:func:`camera_node.sim.truth.best_position_at` 5x, once per scene and region."""
    key = (case.scene, tuple(case.roi))
    if key not in _TRUTH_5X:
        _TRUTH_5X[key] = best_position_at(sim, case.roi, 5)
    return _TRUTH_5X[key]
