"""One browser's WebSocket: the state push, af events, frames with flow control, and actions.

One writer task per connection sends everything, so nothing is ever queued per frame:

- **Frames** (binary messages, see docs/viewer.md) go out with *one credit per camera*: after
  sending a camera's frame the session waits for the browser's ``ack`` for that camera
  before sending the next, and then sends the newest frame there is.  A slow browser
  therefore receives fewer frames; nothing piles up in the viewer or in the socket.  A
  credit that is not returned within ``ACK_TIMEOUT_S`` is restored, so a browser that lost
  an ack is not starved forever.
- **Tile widths**: a browser may declare, per camera, how many device pixels wide its tile
  is (``{"action": "tiles", "widths": {...}}``).  Such a camera's frames are then sent at the
  smallest JPEG DCT scale (1/2, 1/4, 1/8) still at least that wide, made by the shared
  :class:`~viewer.scaler.FrameScaler` off the event loop; while one is being made the writer
  goes on with the other cameras.  Without a declaration, or for a tile as wide as the
  frame, the camera's own bytes go out untouched.  With ``?frames=notify`` the session sends small
  ``frame`` notices instead of the JPEG, and ``?frames=none`` sends no frames at all.
- **State** (``{"type": "state", ...}``) is sent when it changed, at most every
  ``STATE_MIN_INTERVAL_S``, and at least every ``STATE_REFRESH_S`` (fps, offline).
- **af events** and **replies** are small; they wait in a bounded deque (the oldest are
  dropped after ``MAX_OUTBOX``; the state message carries the whole curve anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from protocol import ErrorCode
from tetherfocus.client import AsyncClient
from viewer.actions import SESSION_ACTIONS, ActionError, action_id, parse_action, parse_tile_widths
from viewer.control import CaptureStore, run_action
from viewer.feeds import Frame, Hub
from viewer.jsonutil import dumps, jsonable
from viewer.scale import choose_scale
from viewer.scaler import FrameScaler, Job, ScaledJpeg, job_outcome

STATE_MIN_INTERVAL_S = 0.1
STATE_REFRESH_S = 1.0
ACK_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 10.0
MAX_OUTBOX = 1000
MAX_ACTIONS_IN_FLIGHT = 16
MAX_MESSAGE_BYTES = 64 * 1024
FRAME_MODES = ("ack", "notify", "none")


def frame_message(frame: Frame, camera: str, sent_wall: float, scaled: ScaledJpeg | None = None) -> bytes:
    """The binary WebSocket message of one frame: u32 header length, JSON header, JPEG.

    With ``scaled`` the JPEG is that one, and the header's ``w``/``h`` are its size; ``scale``
    (1, 0.5, 0.25 or 0.125) and ``full_w``/``full_h`` (the node's frame size) say so.
    """
    header = jsonable(frame.header)
    jpeg = frame.jpeg if scaled is None else scaled.jpeg
    extra: dict[str, Any] = {"scale": 1, "full_w": header.get("w"), "full_h": header.get("h")}
    if scaled is not None:
        extra.update(scale=scaled.scale, w=scaled.w, h=scaled.h)
    head = dumps(
        {
            **header,
            **extra,
            "camera": camera,
            "pub_wall": frame.pub_wall,
            "recv_wall": frame.received_wall,
            "send_wall": sent_wall,
            "bytes": len(jpeg),
        }
    ).encode()
    return b"".join((struct.pack(">I", len(head)), head, jpeg))


def frame_notice(frame: Frame, camera: str) -> str:
    h = frame.header
    return dumps(
        {
            "type": "frame",
            "camera": camera,
            "seq": h.get("seq"),
            "move_id": h.get("move_id"),
            "t": h.get("t"),
            "url": f"/snapshot/{camera}.jpg",
        }
    )


class Session:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        hub: Hub,
        controller: AsyncClient,
        captures: CaptureStore,
        cameras: list[str],
        frames: str = "ack",
        scaler: FrameScaler | None = None,
    ) -> None:
        self.ws = ws
        self.hub = hub
        self.controller = controller
        self.captures = captures
        self.scaler = scaler  # None: every frame goes out as the node sent it
        self.widths: dict[str, int] = {}  # declared tile widths, device pixels
        self.making: dict[str, tuple[Frame, Job]] = {}  # a scaled frame being made, per camera
        self.cameras = cameras  # the cameras whose frames this browser wants
        self.frames = frames
        self.wake = asyncio.Event()
        self.outbox: deque[str] = deque(maxlen=MAX_OUTBOX)
        self.state_dirty = True
        self.last_state = 0.0
        self.credit: dict[str, bool] = dict.fromkeys(hub.names(), True)
        self.credit_out: dict[str, float] = {}
        self.sent_seq: dict[str, int] = dict.fromkeys(hub.names(), -1)
        self.sent_frames = 0
        self._actions: set[asyncio.Task[None]] = set()
        self._unsubscribe: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ notifications

    def _on_frame(self, camera: str) -> None:
        if self.credit.get(camera) and camera in self.cameras:
            self.wake.set()

    def _on_state(self) -> None:
        self.state_dirty = True
        self.wake.set()

    def _on_af(self, message: dict[str, Any]) -> None:
        self.outbox.append(dumps(message))
        self.wake.set()

    def send_json(self, message: dict[str, Any]) -> None:
        self.outbox.append(dumps(message))
        self.wake.set()

    # ------------------------------------------------------------------ run

    async def run(self) -> None:
        """Serve the connection until the browser or the server closes it."""
        if self.frames != "none":
            for feed in self.hub.feeds.values():
                self._unsubscribe.append(feed.listen(self._on_frame))
        self._unsubscribe.append(self.hub.on_state(self._on_state))
        self._unsubscribe.append(self.hub.on_af(self._on_af))
        self.send_json({"type": "hello", "cameras": self.hub.names(), "frames": self.frames})
        writer = asyncio.create_task(self._writer())
        try:
            await self._reader()
        finally:
            for unsub in self._unsubscribe:
                unsub()
            writer.cancel()
            for t in list(self._actions):
                t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def _send(self, coro: Any) -> None:
        await asyncio.wait_for(coro, SEND_TIMEOUT_S)

    async def _writer(self) -> None:
        try:
            while not self.ws.closed:
                await self._flush()
                timeout = STATE_REFRESH_S
                if self.state_dirty:
                    timeout = max(0.0, self.last_state + STATE_MIN_INTERVAL_S - time.monotonic())
                if self.credit_out:
                    oldest = min(self.credit_out.values())
                    timeout = min(timeout, max(0.0, oldest + ACK_TIMEOUT_S - time.monotonic()))
                try:
                    await asyncio.wait_for(self.wake.wait(), max(timeout, 0.01))
                except TimeoutError:
                    pass
                self.wake.clear()
        except (ConnectionError, TimeoutError, RuntimeError):
            # The browser went away, or is so slow a send could not finish: drop it.
            await self.ws.close(code=1011, message=b"send timed out")

    async def _flush(self) -> None:
        while self.outbox:
            await self._send(self.ws.send_str(self.outbox.popleft()))
        now = time.monotonic()
        if now - self.last_state >= STATE_REFRESH_S:
            self.state_dirty = True
        if self.state_dirty and now - self.last_state >= STATE_MIN_INTERVAL_S:
            self.state_dirty = False
            self.last_state = now
            await self._send(self.ws.send_str(dumps({"type": "state", **self.hub.state(now)})))
        if self.frames == "none":
            return
        for cam in self.cameras:
            out = self.credit_out.get(cam)
            if out is not None and now - out > ACK_TIMEOUT_S:
                self._restore(cam)
            if not self.credit.get(cam):
                continue
            if cam in self.making:
                await self._send_made(cam, now)
                continue
            feed = self.hub.get(cam)
            frame = feed.latest if feed is not None else None
            if frame is None or frame.seq == self.sent_seq.get(cam):
                continue
            self.sent_seq[cam] = frame.seq
            if self.frames == "notify":
                await self._send(self.ws.send_str(frame_notice(frame, cam)))
                continue
            denom = choose_scale(self.widths.get(cam), frame.width)
            if denom == 1 or self.scaler is None:
                await self._send_frame(cam, frame, None, now)
                continue
            job = self.scaler.request(cam, frame, denom)
            self.making[cam] = (frame, job)
            if job.done():
                await self._send_made(cam, now)
            else:
                job.add_done_callback(lambda _: self.wake.set())

    async def _send_made(self, cam: str, now: float) -> None:
        """Send the scaled frame being made for ``cam`` once it is made; skip one that failed."""
        frame, job = self.making[cam]
        if not job.done():
            return
        del self.making[cam]
        scaled = job_outcome(job)
        if scaled is not None:  # else the frame did not decode: this page skips it
            await self._send_frame(cam, frame, scaled, now)

    async def _send_frame(self, cam: str, frame: Frame, scaled: ScaledJpeg | None, now: float) -> None:
        self.credit[cam] = False
        self.credit_out[cam] = now
        await self._send(self.ws.send_bytes(frame_message(frame, cam, time.time(), scaled)))
        self.sent_frames += 1

    def _restore(self, cam: str) -> None:
        self.credit[cam] = True
        self.credit_out.pop(cam, None)

    # ------------------------------------------------------------------ reading

    async def _reader(self) -> None:
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                self._handle_text(msg.data)
            elif msg.type == WSMsgType.BINARY:
                self.send_json(_error(None, ErrorCode.BAD_REQUEST, "send actions as JSON text messages"))
            elif msg.type == WSMsgType.ERROR:
                break

    def _handle_text(self, text: str) -> None:
        if len(text) > MAX_MESSAGE_BYTES:
            self.send_json(_error(None, ErrorCode.BAD_REQUEST, "message too large"))
            return
        try:
            msg = json.loads(text)
        except ValueError:
            self.send_json(_error(None, ErrorCode.BAD_REQUEST, "not valid JSON"))
            return
        rid = action_id(msg)
        action = msg.get("action") if isinstance(msg, dict) else None
        if action in SESSION_ACTIONS:
            self._session_action(msg, rid)
            return
        try:
            call = parse_action(msg, self.hub.names())
        except ActionError as exc:
            self.send_json(_error(rid, exc.code, exc.message, action))
            return
        if len(self._actions) >= MAX_ACTIONS_IN_FLIGHT:
            self.send_json(_error(rid, ErrorCode.BUSY, "too many actions in flight", action))
            return
        task = asyncio.create_task(self._run(call, rid))
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)

    def _session_action(self, msg: dict[str, Any], rid: str | int | None) -> None:
        if msg["action"] == "ack":
            cam = msg.get("camera")
            if isinstance(cam, str) and cam in self.credit:
                self._restore(cam)
                self.wake.set()
            return  # acks are not answered: they come with every frame
        if msg["action"] == "tiles":
            self._declare_tiles(msg, rid)
            return
        cams = msg.get("cameras")
        if not (isinstance(cams, list) and all(isinstance(c, str) for c in cams)):
            self.send_json(_error(rid, ErrorCode.BAD_ARGS, "'cameras' must be a list of names", "subscribe"))
            return
        unknown = [c for c in cams if c not in self.credit]
        if unknown:
            self.send_json(_error(rid, ErrorCode.NOT_FOUND, f"no camera {unknown[0]!r}", "subscribe"))
            return
        self.cameras = list(cams)
        for cam in [c for c in self.making if c not in self.cameras]:
            del self.making[cam]  # a frame being made for a camera no longer wanted: not sent
        self.send_json({"type": "reply", "id": rid, "action": "subscribe", "ok": True, "result": {}})

    def _declare_tiles(self, msg: dict[str, Any], rid: str | int | None) -> None:
        try:
            widths = parse_tile_widths(msg, self.hub.names())
        except ActionError as exc:
            self.send_json(_error(rid, exc.code, exc.message, "tiles"))
            return
        for cam, px in widths.items():
            if px is None:
                self.widths.pop(cam, None)
            else:
                self.widths[cam] = px
        self.send_json(
            {
                "type": "reply",
                "id": rid,
                "action": "tiles",
                "ok": True,
                "result": {"widths": dict(self.widths)},
            }
        )

    async def _run(self, call: Any, rid: str | int | None) -> None:
        try:
            result = await run_action(call, self.controller, self.hub, self.captures)
        except ActionError as exc:
            self.send_json(_error(rid, exc.code, exc.message, call.action, call.camera))
            return
        self.send_json(
            {
                "type": "reply",
                "id": rid,
                "action": call.action,
                "camera": call.camera,
                "ok": True,
                "result": result,
            }
        )


def _error(
    rid: str | int | None, code: ErrorCode, message: str, action: object = None, camera: str | None = None
) -> dict[str, Any]:
    return {
        "type": "reply",
        "id": rid,
        "action": action if isinstance(action, str) else None,
        "camera": camera,
        "ok": False,
        "error": {"code": code.value, "message": message},
    }
