"""What the viewer knows of each camera: the latest frame, the node's heartbeat, the AF run.

A :class:`CameraFeed` keeps **only the latest frame**.  Readers never get a queue: they ask
for "a frame newer than the one I have" and get the newest one there is, so a slow reader
skips frames instead of falling behind.  Two ways to wait:

- :meth:`CameraFeed.wait_newer` (MJPEG clients, one coroutine each);
- :meth:`CameraFeed.listen` registers a callback run on every new frame (WebSocket
  sessions, which multiplex many cameras in one writer task).

Nothing here does IO; the zmq subscriptions in :mod:`viewer.links` feed it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from viewer.afstate import AfState

OFFLINE_AFTER_S = 3.0  # docs/protocol.md: no status for 3 s means the node is offline
FPS_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True)
class Frame:
    """One live-view frame as it came from the node, with the viewer's receipt times."""

    header: dict[str, Any]  # the node's frame header (docs/protocol.md section 5)
    jpeg: bytes  # the camera's JPEG, untouched
    received: float  # viewer time.monotonic() at receipt
    received_wall: float  # viewer time.time() at receipt
    pub_wall: float | None  # the header's ``t`` mapped to wall time (same host only), else None

    @property
    def seq(self) -> int:
        seq = self.header.get("seq")
        return seq if isinstance(seq, int) else 0

    @property
    def width(self) -> int | None:
        """The frame's width as its header gives it, or None when it gives none."""
        w = self.header.get("w")
        return w if isinstance(w, int) and not isinstance(w, bool) and w > 0 else None


@dataclass(slots=True)
class CameraFeed:
    """Latest frame, status and autofocus state of one camera."""

    name: str
    rep: str
    pub: str | None = None  # resolved PUB endpoint (from the rig or the node's info)
    roi: list[float] = field(default_factory=lambda: [0.4, 0.4, 0.2, 0.2])
    latest: Frame | None = None
    frames: int = 0  # frames received by the viewer
    status: dict[str, Any] | None = None  # the node's last status header
    status_at: float = 0.0  # monotonic time of that status
    controller_status: dict[str, Any] | None = None  # this camera's entry in controller status
    link_error: str | None = None  # why the subscription is not up, for the page
    af: AfState = field(default_factory=AfState)
    _arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    _waiter: asyncio.Event = field(default_factory=asyncio.Event)
    _listeners: set[Callable[[str], None]] = field(default_factory=set)

    # ------------------------------------------------------------------ frames

    def put_frame(self, frame: Frame) -> None:
        """Replace the latest frame and wake every reader (never blocks)."""
        self.latest = frame
        self.frames += 1
        self._arrivals.append(frame.received)
        waiter, self._waiter = self._waiter, asyncio.Event()
        waiter.set()
        for cb in list(self._listeners):
            cb(self.name)

    async def wait_newer(self, seq: int, timeout: float) -> Frame | None:
        """The latest frame if its seq differs from ``seq``, waiting up to ``timeout`` s.

        Returns None on timeout.  "Differs" rather than "greater": a restarted node begins
        again at seq 1, and its frames must still flow.
        """
        deadline = time.monotonic() + timeout
        while True:
            f = self.latest
            if f is not None and f.seq != seq:
                return f
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            waiter = self._waiter
            try:
                await asyncio.wait_for(waiter.wait(), left)
            except TimeoutError:
                return None

    def listen(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(camera_name)`` on every new frame; returns the unsubscribe function."""
        self._listeners.add(callback)
        return lambda: self._listeners.discard(callback)

    # ------------------------------------------------------------------ status

    def put_status(self, header: dict[str, Any], now: float) -> None:
        self.status = header
        self.status_at = now

    def fps(self, now: float) -> float:
        """Frames per second received by the viewer over the last couple of seconds."""
        while self._arrivals and now - self._arrivals[0] > FPS_WINDOW_S:
            self._arrivals.popleft()
        n = len(self._arrivals)
        if n < 2:
            return 0.0
        span = now - self._arrivals[0]
        return round((n - 1) / span, 1) if span > 0 else 0.0

    def state(self, now: float) -> str:
        """``connecting`` before anything was heard, the node's state while it is heard,
        ``offline`` after 3 s of silence."""
        heard = max(self.status_at, self.latest.received if self.latest else 0.0)
        if heard == 0.0:
            return "connecting"
        if now - heard > OFFLINE_AFTER_S:
            return "offline"
        if self.status is not None and now - self.status_at <= OFFLINE_AFTER_S:
            state = self.status.get("state")
            if isinstance(state, str):
                return state
        return "liveview"

    def snapshot(self, now: float) -> dict[str, Any]:
        """This camera as ``/api/state`` and the WebSocket ``state`` message show it."""
        last = self.latest.header if self.latest else {}
        status = self.status or {}
        return {
            "name": self.name,
            "state": self.state(now),
            "fps": self.fps(now),
            "node_fps": status.get("fps"),
            "roi": list(self.roi),
            "af": self.af.to_json(),
            "seq": last.get("seq"),
            "move_id": last.get("move_id", status.get("move_id")),
            "position": last.get("position", status.get("position")),
            "homed": last.get("homed", status.get("homed")),
            "zoom": last.get("zoom", status.get("zoom")),
            "settled": last.get("settled"),
            "size": [last["w"], last["h"]] if "w" in last and "h" in last else None,
            "frames": self.frames,
            "online": (self.controller_status or {}).get("online"),
            "error": self.link_error,
        }


class Hub:
    """All cameras of the rig, by name, plus change notification for the state push."""

    def __init__(self, feeds: list[CameraFeed]) -> None:
        self.feeds: dict[str, CameraFeed] = {f.name: f for f in feeds}
        self.controller_online: bool | None = None  # None: not asked yet
        self.controller_error: str | None = None
        self._state_listeners: set[Callable[[], None]] = set()
        self._af_listeners: set[Callable[[dict[str, Any]], None]] = set()

    def names(self) -> list[str]:
        return list(self.feeds)

    def get(self, name: str) -> CameraFeed | None:
        return self.feeds.get(name)

    def state(self, now: float | None = None) -> dict[str, Any]:
        t = time.monotonic() if now is None else now
        return {
            "cameras": [f.snapshot(t) for f in self.feeds.values()],
            "controller": {"online": self.controller_online, "error": self.controller_error},
        }

    def state_changed(self) -> None:
        for cb in list(self._state_listeners):
            cb()

    def on_state(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._state_listeners.add(callback)
        return lambda: self._state_listeners.discard(callback)

    def publish_af(self, message: dict[str, Any]) -> None:
        for cb in list(self._af_listeners):
            cb(message)

    def on_af(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self._af_listeners.add(callback)
        return lambda: self._af_listeners.discard(callback)
