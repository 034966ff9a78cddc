"""The node process: one camera, a PUB socket for frames and status, a ROUTER for commands.

Tasks of the service (all on one asyncio loop; the camera itself on one worker thread):

- ``commands``: :class:`tetherfocus.server.CommandServer` on the ROUTER socket decodes,
  validates and answers every request exactly once, each in its own task; :meth:`Node.dispatch`
  answers info and status at once, refuses with ``busy`` while a long command runs, and
  otherwise runs the command's handler (:mod:`camera_node.handlers`) one at a time.
- ``preview``: asks the worker for a frame, stamps its header, publishes it; paced to --fps.
- ``status``: publishes ``status.<name>`` every second.
- ``connect``: opens the camera, and reopens it with backoff when it is lost.

The ROUTER socket speaks to REQ clients (``[identity, b"", request]``) and DEALER clients
(with or without the empty delimiter); a reply repeats the envelope it came with.

Bounds: a command waits at most LOCK_TIMEOUT_S for the command before it (then ``busy``);
each camera call at most CALL_TIMEOUT_S (CAPTURE_TIMEOUT_S for a capture,
LIVEVIEW_TIMEOUT_S to start live view), then ``timeout``.  See :mod:`camera_node.config`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import zmq
import zmq.asyncio

from camera_node import handlers
from camera_node.backends.base import CAP_LIVEVIEW, Backend, BackendError, CameraInfo
from camera_node.clock import Clock, RealClock
from camera_node.config import (
    ANSWER_HOLD_S,
    ANSWER_WAIT_S,
    CALL_TIMEOUT_S,
    LIVEVIEW_TIMEOUT_S,
    LOCK_TIMEOUT_S,
    MAX_PENDING,
    PART_HOLD_S,
    TRAVEL_CALL_S,
    NodeConfig,
)
from camera_node.motion import MoveTracker
from camera_node.publisher import Publisher
from camera_node.worker import CameraWorker, WorkerClosed, WorkerTimeout
from protocol import NODE_COMMANDS, ErrorCode, FrameHeader, ProtocolError, StatusHeader
from tetherfocus.errors import UsageError
from tetherfocus.security import load_security
from tetherfocus.server import CommandServer, bind_router, bound_endpoint

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


SHUTDOWN_TASKS_S = 3.0


@dataclass(frozen=True, slots=True)
class Frame:
    """The last frame published, kept for focus.home."""

    t: float
    seq: int
    jpeg: bytes


class Node:
    """The running node.  Create, then ``await run(stop)``."""

    def __init__(
        self,
        config: NodeConfig,
        factory: Callable[[], Backend],
        *,
        clock: Clock | None = None,
        versions: dict[str, str] | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        """``context``: a ZeroMQ context to share (benchmarks run several nodes in one
        process); the node then leaves it open on shutdown.  By default it owns its own."""
        self.config = config
        self.name = config.name
        self.factory = factory
        self.clock = clock or RealClock()
        self.worker = CameraWorker()
        self.tracker = MoveTracker()
        self.backend: Backend | None = None
        self.info: CameraInfo | None = None
        self.caps: set[str] = set()
        self.lost = False
        self.want_liveview = config.liveview
        self.liveview_on = False
        self.busy: str | None = None
        self.zoom = 1
        self.zoom_center: tuple[float, float] = (0.5, 0.5)
        self.seq = 0
        self.dropped = 0
        self.last_frame: Frame | None = None
        self.frame_event = asyncio.Event()
        self.cmd_lock = asyncio.Lock()
        self.pending = 0
        self.versions = dict(versions or {})
        self.latency: collections.deque[float] = collections.deque(maxlen=100_000)  # read -> PUB
        self._frame_times: collections.deque[float] = collections.deque(maxlen=64)
        # A drive part due on the camera thread at a known time (after the None toggle's
        # pause): frames whose camera call could still run then wait for it (see _hold_frame).
        self._part_due: float | None = None
        self._part_sent = asyncio.Event()
        self._part_sent.set()
        self._grab_s: collections.deque[float] = collections.deque(maxlen=8)  # frames' camera calls
        # Commands as the frame loop sees them (see _hold_for_answer): how many came in, how
        # many camera calls they made, and an event set on each.
        self._commands_in = 0
        self._command_calls = 0
        self._command_event = asyncio.Event()
        self._answered_move = -1  # the move whose first settled frame has been held after
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lost_event = asyncio.Event()
        self._lv_wakeup = asyncio.Event()
        self.started = asyncio.Event()  # set after the first attempt to open the camera
        self._own_ctx = context is None
        self.ctx = context if context is not None else zmq.asyncio.Context()
        # --keys: both sockets are CURVE servers, and the ZAP handler (started before any
        # bind, so no connection slips in unchecked) accepts only DIR/authorized/ keys.
        self.security = load_security(config.keys, "node")
        self._auth: Any = self.security.start_authenticator(self.ctx) if self.security else None
        try:
            self.publisher = Publisher(self.ctx, config.pub, self.security)
        except zmq.ZMQError as exc:
            self._stop_auth()
            self._drop_ctx()
            raise UsageError(f"--pub {config.pub}: cannot bind: {exc}") from None
        try:
            self.rep = bind_router(self.ctx, config.rep, self.security)
        except zmq.ZMQError as exc:
            self.publisher.close()
            self._stop_auth()
            self._drop_ctx()
            raise UsageError(f"--rep {config.rep}: cannot bind: {exc}") from None
        self.rep_endpoint = bound_endpoint(self.rep)
        self.server = CommandServer(
            self.rep, NODE_COMMANDS, {cmd: self._handler(cmd) for cmd in handlers.HANDLERS}, name=config.name
        )

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        if self.lost:
            return "camera_lost"
        if self.info is None:
            return "starting"
        if self.busy is not None:
            return "busy"
        return "liveview" if self.liveview_on else "idle"

    @property
    def fps(self) -> float:
        ts = self._frame_times
        if len(ts) < 2 or self.clock.now() - ts[-1] > 2.0:
            return 0.0
        return (len(ts) - 1) / max(1e-9, ts[-1] - ts[0])

    def status_header(self) -> StatusHeader:
        return StatusHeader(
            camera=self.name,
            t=self.clock.now(),
            state=self.state,
            fps=round(self.fps, 2),
            frames=self.seq,
            dropped=self.dropped,
            move_id=self.tracker.move_id,
            position=self.tracker.position,
            homed=self.tracker.homed,
            zoom=self.zoom,
            busy=self.busy,
            versions=self.versions,
        )

    # ------------------------------------------------------------------ camera access

    async def camera(
        self, fn: Callable[[Backend], T], timeout: float = CALL_TIMEOUT_S, *, frame: bool = False
    ) -> T:
        """Run ``fn(backend)`` on the camera thread (``frame``: a live-view frame's call, not
        a command's).

        Raises ProtocolError: camera_error when the camera is lost (and starts reconnecting)
        or not open, timeout past ``timeout``; BackendError for the camera's other refusals.
        """
        backend = self.backend
        if self.lost:  # e.g. the preview loop saw the USB link go after this command was admitted
            raise camera_lost_error("the camera is lost; the node is reconnecting")
        if backend is None:
            raise ProtocolError(ErrorCode.CAMERA_ERROR, "the camera is not open")
        if not frame:
            self._command_calls += 1  # queued below before anything else can run
            self._command_event.set()
        try:
            return await self.worker.run(lambda: fn(backend), timeout)
        except WorkerTimeout as exc:
            raise ProtocolError(ErrorCode.TIMEOUT, str(exc)) from None
        except WorkerClosed:
            raise ProtocolError(ErrorCode.CAMERA_ERROR, "the node is shutting down") from None
        except BackendError as exc:
            if exc.code == "camera_lost":
                self.on_lost(exc)
                raise camera_lost_error(f"camera lost: {exc.message}") from None
            raise

    def on_lost(self, exc: BaseException) -> None:
        if not self.lost:
            log.warning("camera lost: %s", exc)
            self.lost = True
            self.liveview_on = False
            self.tracker.unhome()
            self._lost_event.set()

    async def _connect_loop(self) -> None:
        """Open the camera; reopen it with backoff whenever it is lost."""
        attempt = 0
        while True:
            try:
                await self._open()
                attempt = 0
                self.lost = False
                self._lost_event.clear()
                log.info(
                    "camera open: %s %s (%s)",
                    self.info and self.info.make,
                    self.info and self.info.model,
                    ", ".join(sorted(self.caps)),
                )
                if self.want_liveview and CAP_LIVEVIEW in self.caps:
                    try:
                        await self.start_liveview()
                    except (ProtocolError, BackendError) as exc:
                        if not self.lost:
                            log.warning("live view did not start: %s", exc)
                self.started.set()
                await self._lost_event.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.on_lost(exc)
                self.started.set()
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                log.warning("cannot open the camera (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def _open(self) -> None:
        def job() -> tuple[Backend, CameraInfo]:
            if self.backend is not None:
                self.backend.close()
            backend = self.factory()
            return backend, backend.open()

        self.liveview_on = False
        backend, info = await self.worker.run(job, LIVEVIEW_TIMEOUT_S)
        self.backend, self.info, self.caps = backend, info, set(info.capabilities)
        self.zoom, self.zoom_center = 1, (0.5, 0.5)

    async def start_liveview(self) -> None:
        """Start live view; a body without it loses the capability and the node goes on.

        Raises ProtocolError / BackendError as :meth:`camera`."""
        try:
            await self.camera(lambda b: b.liveview_start(), LIVEVIEW_TIMEOUT_S)
        except BackendError as exc:
            if exc.code == "not_supported":
                self.caps.discard(CAP_LIVEVIEW)
                log.info("this camera has no live view; frames will not be published")
            raise
        self.liveview_on = True
        self._lv_wakeup.set()

    # ------------------------------------------------------------------ drive parts and frames

    def part_due(self, at: float) -> None:
        """A drive part's camera call will be submitted at ``at`` (clock time)."""
        self._part_due = at
        self._part_sent.clear()

    def part_sent(self) -> None:
        """That call has run (or will not be made)."""
        self._part_due = None
        self._part_sent.set()

    async def _hold_frame(self) -> None:
        """Wait for a drive part due before a frame's camera call would end.

        The camera thread runs one call at a time, and a frame's call cannot be interrupted
        (a preview waits for the body's next frame, then reads it: up to a frame period and
        more).  A drive part queued behind it starts the motor that much later, and the
        search waits for it; a frame held for the part costs nothing, since every frame
        read during a drive is unsettled.  Bounded: PART_HOLD_S past the part's due time."""
        due = self._part_due
        if due is None:
            return
        now = self.clock.now()
        if due >= now + max(self._grab_s, default=0.0):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._part_sent.wait(), max(0.0, due - now) + PART_HOLD_S)

    # ------------------------------------------------------------------ frames

    async def _preview_loop(self) -> None:
        period = 1.0 / self.config.fps if self.config.fps > 0 else 0.0
        next_t = self.clock.now()
        errors = 0
        while True:
            if not self.liveview_on:
                self._lv_wakeup.clear()
                await self._lv_wakeup.wait()
                next_t = self.clock.now()
                continue
            if period:
                now = self.clock.now()
                # Not past the settle point: the first frame asked for then is the first settled one.
                due = self.tracker.settle_due(now)
                wake = next_t if due is None else min(next_t, due)
                if wake > now:
                    await asyncio.sleep(wake - now)
                next_t = max(next_t + period, self.clock.now() - period)

            def grab(b: Backend) -> tuple[bytes, int, int, float, float, int, float | None]:
                t0 = self.clock.now()
                # move_id and position as they stand when the frame is asked for (plain
                # attribute reads); ``settled`` is judged later against the same time.
                move_id, position = self.tracker.move_id, self.tracker.position
                jpeg, w, h = b.preview()
                t = self.clock.now()
                self._grab_s.append(t - t0)
                return jpeg, w, h, t, t0, move_id, position

            try:
                await self._hold_frame()
                await self._hold_for_settle()
                jpeg, w, h, t, asked, move_id, position = await self.camera(grab, frame=True)
            except (ProtocolError, BackendError) as exc:
                if not self.liveview_on:
                    continue  # stopped while the frame was being read
                self.dropped += 1
                errors += 1
                if errors in (1, 10) or errors % 100 == 0:
                    log.warning("live-view frame failed (%d so far): %s", errors, exc)
                await asyncio.sleep(min(1.0, 0.05 * errors))
                continue
            errors = 0
            if self.publish_frame(jpeg, w, h, t, asked, move_id, position) and move_id != self._answered_move:
                self._answered_move = move_id
                await self._hold_for_answer()

    async def _hold_for_answer(self) -> None:
        """After the first settled frame of a move, leave the camera free for a moment.

        A focus search answers that frame with its next drive within milliseconds (a decode
        and a round trip).  A frame's call started meanwhile cannot be interrupted, and the
        drive would wait behind it: up to a frame period on the simulator, which waits for
        its next frame, and a USB transfer on a body (traced live on ``moto``, one run: 30-38
        ms in 7 of the 9 drives that answered a frame).  So the next frame's call waits
        ANSWER_HOLD_S (at most half the frame interval, so the camera's next frame is still
        caught), and once a command has come in, until it has made its first camera call or
        ended (at most ANSWER_WAIT_S more)."""
        fps = self.fps
        hold = min(ANSWER_HOLD_S, 0.5 / fps) if fps > 0 else ANSWER_HOLD_S
        end = self.clock.now() + hold
        came, calls = self._commands_in, self._command_calls
        waiting_for_call = False
        while self._command_calls == calls:
            if self._commands_in != came and not waiting_for_call:  # one is on its way
                waiting_for_call = True
                end = max(end, self.clock.now() + ANSWER_WAIT_S)
            if waiting_for_call and self.pending == 0:
                return  # it ended without a camera call (refused, say)
            left = end - self.clock.now()
            if left <= 0:
                return
            self._command_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._command_event.wait(), left)

    async def _hold_for_settle(self) -> None:
        """Ask for the frame at the settle point when it falls within the frame's call.

        A frame asked for before the settle point is unsettled, however late it arrives (see
        :meth:`publish_frame`), so a call that would still run at the settle point starts
        there instead: its frame is the first settled one, not the one after it.  Frames
        during a longer move go on as usual.  Bounded: the settle point of a move already
        issued, plus a millisecond per turn (the loop's timer may fire a little early)."""
        for _ in range(3):
            now = self.clock.now()
            due = self.tracker.settle_due(now)
            if due is None or due - now > max(self._grab_s, default=0.0):
                return
            await asyncio.sleep(due - now + 0.001)

    def publish_frame(
        self, jpeg: bytes, w: int, h: int, t: float, asked: float, move_id: int, position: float | None
    ) -> bool:
        """Stamp and publish one frame read from the camera at ``t``, asked for at ``asked``,
        with ``move_id`` and ``position`` as they stood then.

        ``settled`` is judged at ``asked``: a frame cannot have been exposed much before it
        was asked for (the settle margin covers a body's latest buffer), but it can arrive
        long after (a stalled USB transfer), so judged by its arrival a frame exposed while
        the motor moved could say settled.  It is false when a move was accepted since, or
        its parts or settle time lay beyond ``asked``, so a frame whose ``position`` may be
        stale never says settled.  Returns ``settled``."""
        self.seq += 1
        current = move_id == self.tracker.move_id
        header = FrameHeader(
            camera=self.name,
            seq=self.seq,
            t=t,
            w=w,
            h=h,
            move_id=move_id,
            settled=self.tracker.settled(asked) and current,
            position=position,
            homed=position is not None,
            zoom=self.zoom,
            zoom_center=self.zoom_center,
            # A frame whose call took long may be older than the model's lag says.
            travel=self.tracker.travel(t) if current and t - asked <= TRAVEL_CALL_S else None,
        )
        self.latency.append(self.clock.now() - t)
        self.publisher.frame(header, jpeg)
        self._frame_times.append(t)
        self.last_frame = Frame(t, self.seq, jpeg)
        self.frame_event.set()
        return header.settled

    async def next_frame(self, after: float, timeout: float = CALL_TIMEOUT_S) -> Frame:
        """The first frame read at or after ``after`` (node clock).  Raises ProtocolError."""
        deadline = self.clock.now() + timeout
        while True:
            f = self.last_frame
            if f is not None and f.t >= after:
                return f
            if not self.liveview_on:
                raise ProtocolError(ErrorCode.NOT_READY, "live view stopped")
            left = deadline - self.clock.now()
            if left <= 0:
                raise ProtocolError(ErrorCode.TIMEOUT, f"no live-view frame within {timeout:g} s")
            self.frame_event.clear()
            try:
                await asyncio.wait_for(self.frame_event.wait(), left)
            except TimeoutError:
                pass

    async def _status_loop(self) -> None:
        while True:
            self.publisher.status(self.status_header())
            await asyncio.sleep(self.config.status_interval)

    # ------------------------------------------------------------------ commands

    def _handler(self, cmd: str) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
        async def handle(args: dict[str, Any]) -> dict[str, Any]:
            return await self.dispatch(cmd, args)

        handle.__doc__ = NODE_COMMANDS[cmd].summary
        return handle

    async def dispatch(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run one validated command.  Raises ProtocolError with the reply's code."""
        immediate = handlers.IMMEDIATE.get(cmd)
        if immediate is not None:
            return immediate(self, args)
        long = NODE_COMMANDS[cmd].long
        self.admit(cmd, long)  # synchronous: no other request can slip in between
        self.pending += 1
        self._commands_in += 1
        self._command_event.set()
        locked = False
        try:
            try:
                await asyncio.wait_for(self.cmd_lock.acquire(), LOCK_TIMEOUT_S)
                locked = True
            except TimeoutError:
                raise ProtocolError(ErrorCode.BUSY, "the camera is busy with another command") from None
            return await handlers.CAMERA[cmd](self, args)
        except BackendError as exc:
            raise ProtocolError(backend_code(exc.code), exc.message) from None
        finally:
            self.pending -= 1
            self._command_event.set()
            if locked:
                self.cmd_lock.release()
            if long:
                self.busy = None

    def admit(self, cmd: str, long: bool) -> None:
        """Refuse at once what cannot run now.  Raises ProtocolError (busy, camera_error, not_ready)."""
        if self.busy is not None:
            raise ProtocolError(
                ErrorCode.BUSY, f"{self.busy} is running; try again when it ends", {"running": self.busy}
            )
        if self.lost:
            raise camera_lost_error("the camera is lost; the node is reconnecting")
        if self.info is None:
            raise ProtocolError(ErrorCode.NOT_READY, "the camera is still being opened")
        if self.pending >= MAX_PENDING:
            raise ProtocolError(ErrorCode.BUSY, f"{self.pending} commands are already waiting")
        if long:
            self.busy = cmd

    # ------------------------------------------------------------------ lifetime

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then shut down cleanly."""
        for coro in (self._connect_loop(), self._preview_loop(), self._status_loop(), self.server.serve()):
            self.spawn(coro)
        if self.config.advertise is not None:  # mDNS announcement (docs/rig.md, discovery)
            from camera_node.discovery import advertise

            self.spawn(advertise(self, self.config.advertise))
        try:
            await stop.wait()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a task that ignores its cancellation must not hold the node up
            _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_TASKS_S)
            for task in stuck:
                log.warning("task %s did not stop within %.0f s", task.get_name(), SHUTDOWN_TASKS_S)
        await self.server.drain(timeout=1.0)
        self.publisher.close()
        self.rep.close(linger=0)
        backend = self.backend
        if backend is not None:
            try:
                await self.worker.run(lambda: _close_quietly(backend), 3.0)
            except (WorkerTimeout, WorkerClosed):
                log.warning("the camera did not close within 3 s")
        self.worker.shutdown(wait=False)
        self._stop_auth()
        if self._own_ctx:
            self.ctx.term()

    def _drop_ctx(self) -> None:
        if self._own_ctx:
            self.ctx.destroy(linger=0)

    def _stop_auth(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None


def _close_quietly(backend: Backend) -> None:
    try:
        if getattr(backend, "liveview", False):
            backend.liveview_stop()
    except BackendError:
        pass
    backend.close()


def camera_lost_error(message: str) -> ProtocolError:
    """The reply to any command the camera's loss stops: camera_error with details.camera_lost."""
    return ProtocolError(ErrorCode.CAMERA_ERROR, message, {"camera_lost": True})


def backend_code(code: str) -> ErrorCode:
    """A BackendError code as a protocol error code (camera_lost is a camera_error)."""
    try:
        return ErrorCode(code)
    except ValueError:
        return ErrorCode.CAMERA_ERROR if code == "camera_lost" else ErrorCode.INTERNAL
