"""The asyncio shell around a focus search: one autofocus run on one camera.

It feeds the pure strategy (:mod:`controller.search`) with observations made from the
node's frames (decoded, scored and fed on a measure thread, one frame at a time; frames
the header shows no search wants, because the motor moves or they precede the last move,
never wake the run), carries out the moves it asks for through the node's command socket, tells
it which ``move_id`` each move got, and reports every phase, sample and the result through
``emit``.  It never decides anything about focus itself.

A run ends with a result map: ``ok``, ``position``, ``measure``, ``drives``,
``motor_moves``, ``frames``, ``seconds``, ``strategy``, and ``reason`` when not ok.  It
ends as failed (never hangs) when the node stops sending frames or answering: every wait
is bounded by ``frame_timeout``.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from controller import measures
from controller.links import CameraLink, Frame
from controller.observe import observe
from controller.search import recall_options, with_landing_top
from controller.search._types import Command, Done, Drive, Failed, Observation, Strategy, Zoom
from tetherfocus.client import RemoteError

#: How long a run that landed waits for a frame at 1x to remember its region's 1x measure by.
LANDING_TOP_WAIT_S = 2.0

Emit = Callable[[str, dict[str, Any]], None]  # (kind, fields) -> publish an af event


class RunFailed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class AutofocusRun:
    def __init__(
        self,
        link: CameraLink,
        strategy: Strategy,
        strategy_name: str,
        roi: Sequence[float],
        emit: Emit,
        *,
        executor: Executor | None = None,
        measure: str | None = None,
        frame_timeout: float = 15.0,
        reference_decode: bool = False,
    ) -> None:
        self.link = link
        self.strategy = strategy
        self.strategy_name = strategy_name
        self.roi = list(roi)
        self.emit = emit
        self.executor = executor
        self.measure = measure
        self.frame_timeout = frame_timeout
        self.reference_decode = reference_decode  # full decode, for benchmarks to compare
        self.drives = 0
        self.motor_moves = 0
        self.frames = 0
        self.stale = 0  # frames skipped undecoded because a newer one was waiting
        self.unsettled = 0  # frames skipped undecoded because the node says the motor moves
        self.superseded = 0  # frames skipped undecoded because they precede the last move
        self._floor = 0  # the move_id of the last move the node accepted for this run
        self._seen_at = 0.0  # when the link last had a frame for this run, wanted or not
        self.unscored = 0  # wanted frames that could not be decoded or scored
        self.unscored_why = ""
        self._unscored_since: float | None = None  # the first of the wanted frames since unscored
        self._cancel_waiter: asyncio.Future[Any] | None = None
        self.state = "starting"
        # What a later refocus of this region starts from (controller.search.recall_options):
        # None until the run ends, {} when it left nothing to recall.
        self.memory: dict[str, float] | None = None
        self._ended: float | None = None  # when the search reported Done
        self.started = time.monotonic()
        self.result: dict[str, Any] | None = None
        self._cancel = asyncio.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def _phase(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.emit("state", {"state": state})

    async def _move(self, cmd: Drive | Zoom) -> list[Command]:
        now = time.monotonic()
        try:
            if isinstance(cmd, Drive):
                # the node answers once every drive is issued: allow for each one
                r = await self.link.call(
                    "focus.drive",
                    {"direction": cmd.direction, "level": cmd.level, "count": cmd.count},
                    timeout=5.0 + 0.6 * cmd.count,
                )
                self.drives += 1
                self.motor_moves += cmd.count
            else:
                args: dict[str, Any] = {"zoom": cmd.level}
                if cmd.center is not None:
                    args["center"] = list(cmd.center)
                r = await self.link.call("zoom.set", args)
        except RemoteError as exc:
            return self.strategy.move_failed(f"{exc.code.value}: {exc.message}", time.monotonic())
        move_id = int(r["move_id"])
        self._floor = max(self._floor, move_id)
        return self.strategy.moved(move_id, now)

    async def _carry_out(self, cmds: list[Command]) -> Done | Failed | None:
        """Carry out commands (and any that the strategy answers with) until it wants frames."""
        queue = list(cmds)
        while queue:
            cmd = queue.pop(0)
            if isinstance(cmd, Drive | Zoom):
                queue.extend(await self._move(cmd))
            elif isinstance(cmd, Done | Failed):
                return cmd
        return None

    def _on_the_move(self, header: dict[str, Any]) -> bool:
        """A frame the node read while the motor moved, placed along the move (``travel``),
        that the strategy wants now (it scores frames on the move)."""
        return header.get("travel") is not None and self.strategy.wants_moving

    def _wanted(self, header: dict[str, Any]) -> bool:
        """The link's filter: a frame worth waking the run for (the header alone decides).
        A frame that overlaps a move (unless the strategy scores frames on the move), or was
        read before this run's last move, is not."""
        self._seen_at = time.monotonic()
        if not header.get("settled", False) and not self._on_the_move(header):
            self.unsettled += 1
            return False
        if int(header.get("move_id", 0)) < self._floor:
            self.superseded += 1
            return False
        return True

    async def _next_frame(self, q: asyncio.Queue[Frame]) -> Frame:
        """The next frame; fails when the node goes offline (no heartbeat for 3 s) or sends
        no frame for ``frame_timeout`` s while alive (long drives hold its camera)."""
        if not q.empty():
            return q.get_nowait()
        started = time.monotonic()
        if self._cancel_waiter is None:
            self._cancel_waiter = asyncio.ensure_future(self._cancel.wait())
        while True:
            get = asyncio.ensure_future(q.get())
            try:
                done, _ = await asyncio.wait(
                    {get, self._cancel_waiter}, timeout=0.5, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if not get.done():
                    get.cancel()
            if get in done:
                return get.result()
            if self._cancel_waiter in done:
                raise RunFailed("cancelled", "cancelled on request")
            if not self.link.online:
                raise RunFailed("node_offline", f"the node of {self.link.name} stopped answering")
            if time.monotonic() - max(started, self._seen_at) > self.frame_timeout:
                raise RunFailed("no_frames", f"no frame from the node in {self.frame_timeout:g} s")

    def _measure_and_feed(
        self, frame: Frame, kwargs: dict[str, Any]
    ) -> tuple[Observation, float | None, object, list[Command]] | None:
        """On a measure thread: decode and score the frame, then feed it to the strategy
        (pure, and touched by this run only, one call at a time), so that neither a decode
        nor a curve fit holds up the event loop, which serves every camera.  Returns the
        observation, the sample's position and the phase as they were before the feed, and
        the strategy's commands; None for a frame that cannot be decoded."""
        try:
            obs = observe(frame.header, frame.jpeg, self.roi, **kwargs)
        except ValueError as exc:
            if self._unscored_since is None:
                self._unscored_since = time.monotonic()
            self.unscored += 1
            self.unscored_why = str(exc)
            return None
        self._unscored_since = None
        position = self._sample_position(obs)
        phase = getattr(self.strategy, "phase", None)
        return obs, position, phase, self.strategy.feed(obs, time.monotonic())

    async def _landing_top(self, q: asyncio.Queue[Frame]) -> float | None:
        """The region's measure on the first settled frame after the last move (the view
        back at 1x), at the search's coarse scale: the top of the 1x curve that a refocus
        of it compares its first frame with (:func:`controller.search.with_landing_top`).
        None if the view is not at 1x, the strategy has no coarse scale, or no such frame
        comes within ``LANDING_TOP_WAIT_S``."""
        scale = getattr(self.strategy, "coarse_scale", None)
        if not isinstance(scale, int):
            return None
        deadline = time.monotonic() + LANDING_TOP_WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = await asyncio.wait_for(q.get(), left)
            except TimeoutError:
                return None
            h = frame.header
            if not h.get("settled", False) or int(h.get("move_id", 0)) < self._floor:
                continue
            if int(h.get("zoom", 1) or 1) != 1:
                return None
            measure = self.measure or measures.DEFAULT
            score = functools.partial(observe, h, frame.jpeg, self.roi, scale=scale, measure=measure)
            try:
                obs = await asyncio.get_running_loop().run_in_executor(self.executor, score)
            except ValueError:
                return None
            return obs.measure
        return None

    def _sample_position(self, obs: Observation) -> float | None:
        pos = getattr(self.strategy, "position", None)
        if isinstance(pos, int | float):
            return float(pos)
        return obs.position

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        q = self.link.attach(accept=self._wanted)
        end: Done | Failed | None = None
        try:
            self._phase("searching")
            end = await self._carry_out(self.strategy.start(time.monotonic()))
            while end is None:
                if self._cancel.is_set():
                    end = await self._carry_out(self.strategy.cancel(time.monotonic())) or Failed(
                        "cancelled", "cancelled on request"
                    )
                    break
                try:
                    frame = await self._next_frame(q)
                except RunFailed as exc:
                    if exc.reason == "cancelled":
                        continue
                    raise
                while not q.empty():  # a newer frame waits: the older one is stale, never decoded
                    frame = q.get_nowait()
                    self.stale += 1
                h = frame.header
                # cheap pre-filters, on the header alone: a frame that overlaps a move (unless
                # the strategy scores frames on the move), or was read before the last move
                # this run made, is never decoded
                if not h.get("settled", False) and not self._on_the_move(h):
                    self.unsettled += 1
                    continue
                if int(h.get("move_id", 0)) < self._floor:
                    self.superseded += 1
                    continue
                kwargs: dict[str, Any] = {
                    "scale": self.strategy.wanted_scale,
                    "tiles": self.strategy.wanted_tiles,
                    "coarse": self.strategy.wanted_coarse,
                    "reference": self.reference_decode,
                }
                if self.measure:
                    kwargs["measure"] = self.measure
                stepped = await loop.run_in_executor(self.executor, self._measure_and_feed, frame, kwargs)
                if stepped is None:
                    # Frames keep coming but none can be scored (a corrupt stream): fail
                    # rather than wait for ever.
                    since = self._unscored_since
                    if since is not None and time.monotonic() - since > self.frame_timeout:
                        raise RunFailed(
                            "no_frames",
                            f"no frame could be scored in {self.frame_timeout:g} s"
                            f" ({self.unscored} tried; the last: {self.unscored_why})",
                        )
                    continue
                obs, position, phase, cmds = stepped
                self.frames += 1
                self.emit(
                    "sample",
                    {
                        "position": position,
                        "measure": obs.measure,
                        "zoom": obs.zoom,
                        "series": sample_series(obs, frame.header.get("zoom_center")),
                    },
                )
                if isinstance(phase, str):
                    self._phase(phase)
                end = await self._carry_out(cmds)
            if isinstance(end, Done):
                self._ended = time.monotonic()
                self.memory = with_landing_top(recall_options(end.metrics), await self._landing_top(q))
        except RunFailed as exc:
            end = Failed(exc.reason, exc.detail)
            # best effort: let the strategy send the motor back
            try:
                back = await asyncio.wait_for(self._carry_out(self.strategy.cancel(time.monotonic())), 5.0)
                del back
            except (TimeoutError, RemoteError):
                pass
        finally:
            self.link.detach()
            if self._cancel_waiter is not None:
                self._cancel_waiter.cancel()
        seconds = (self._ended or time.monotonic()) - self.started
        result: dict[str, Any] = {
            "ok": isinstance(end, Done),
            "strategy": self.strategy_name,
            "drives": self.drives,
            "motor_moves": self.motor_moves,
            "frames": self.frames,
            "seconds": round(seconds, 3),
            "roi": self.roi,
        }
        if isinstance(end, Done):
            result.update(position=end.position, measure=end.measure, node_position=end.node_position)
            spread = end.metrics.get("fine_spread")
            slack = end.metrics.get("slack")
            result.update(
                spans_depth=bool(end.metrics.get("spans_depth", 0.0)),
                depth_spread=None if spread is None or spread < 0 else round(spread, 1),
                slack=None if slack is None else round(slack, 1),
            )
            if "asymmetry" in end.metrics:  # a calibration's result (controller.search.calibrate)
                se = end.metrics.get("asymmetry_se", math.nan)
                result.update(
                    asymmetry=round(end.metrics["asymmetry"], 4),
                    asymmetry_se=round(se, 4) if math.isfinite(se) else None,
                )
            self._phase("done")
        else:
            assert isinstance(end, Failed)
            result.update(reason=end.reason, detail=end.detail, position=None, measure=None)
            self._phase("failed")
        if self.strategy_name == "refocus":  # whether it started from the last landing, either way
            recall = end.metrics.get("recall")
            result["refocus"] = {1.0: "landed", -1.0: "fell_back"}.get(recall or 0.0, "no_memory")
        self.result = result
        self.emit("result", {"result": result})
        return result


def sample_series(obs: Observation, center: Any) -> str:
    """What a sample's measure was taken on: ``"1x 1/8"``, ``"5x 1/4 @0.50,0.50"``.  Measures
    compare only within one view and decode scale; a search may look at several (a coarse
    climb at 1x, a magnified scan, a second magnified view elsewhere)."""
    out = f"{obs.zoom}x 1/{obs.scale}"
    if obs.zoom > 1 and isinstance(center, list | tuple) and len(center) == 2:
        out += f" @{float(center[0]):.2f},{float(center[1]):.2f}"
    return out
