"""The controller's connection to one camera node.

A :class:`CameraLink` asks the node for its ``info`` (retrying with backoff until it
answers), subscribes to its frames and heartbeats, and keeps what the controller knows of
the camera: online or not, the node's state, the frame rate, the latest frame.  A frame
consumer (an autofocus run) attaches a small queue; frames go to it only while it is
attached, and the oldest is dropped when it falls behind.

Liveness: a node is *online* while a status event or frame arrived in the last
``OFFLINE_AFTER_S`` seconds.  A subscription that hears nothing for that long is rebuilt.

Receiving costs no future per frame: the SUB socket is a plain one whose file descriptor
the event loop watches (``add_reader``); each time it signals, every waiting message is
read without blocking and handled at once.  A consumer may pass ``accept``, a test of the
header alone, so that frames it would only throw away never wake it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import zmq
import zmq.asyncio

from controller.rig import CameraSpec
from protocol import FrameHeader, ProtocolError, decode_event
from tetherfocus.client import AsyncClient, RemoteError

log = logging.getLogger(__name__)

OFFLINE_AFTER_S = 3.0
POLL_MS = 500
DRAIN_BATCH = 32  # messages read per wake-up before the loop gets a turn


@dataclass(slots=True)
class Frame:
    header: dict[str, Any]
    jpeg: bytes
    received: float  # controller monotonic clock


def pub_endpoint(rep: str, info: dict[str, Any]) -> str:
    """The node's PUB endpoint: its ``pub`` if concrete, else ``pub_port`` on the rep host."""
    pub = info.get("pub")
    host = urlsplit(rep).hostname or "127.0.0.1"
    if isinstance(pub, str) and pub.startswith("tcp://"):
        phost = urlsplit(pub).hostname
        if phost not in (None, "*", "0.0.0.0", "::"):
            return pub
    port = info.get("pub_port")
    if not isinstance(port, int):
        raise ValueError("the node's info names no pub_port")
    if ":" in host:
        host = f"[{host}]"
    return f"tcp://{host}:{port}"


class CameraLink:
    def __init__(
        self,
        spec: CameraSpec,
        ctx: zmq.asyncio.Context,
        *,
        timeout: float = 5.0,
        security: Any = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.ctx = ctx
        self.security = security
        self.client = AsyncClient(spec.rep, timeout=timeout, context=ctx, security=security)
        self.roi: list[float] = list(spec.roi)
        self.info: dict[str, Any] | None = None
        self.node_state = "offline"
        self.fps = 0.0
        self.last_heard = 0.0
        self.latest: Frame | None = None
        self.frames_seen = 0
        self.frame_at = 0.0  # when the last frame arrived (controller monotonic clock)
        self._queue: asyncio.Queue[Frame] | None = None
        self._accept: Callable[[dict[str, Any]], bool] | None = None
        self._sync_ctx: zmq.Context[Any] = zmq.Context.shadow(ctx.underlying)
        self._task: asyncio.Task[None] | None = None
        # called with (link, info) whenever the node answers info (controller.rigops: identity)
        self.on_info: Callable[[CameraLink, dict[str, Any]], None] | None = None

    # ------------------------------------------------------------------ state

    @property
    def online(self) -> bool:
        return self.info is not None and time.monotonic() - self.last_heard < OFFLINE_AFTER_S

    @property
    def state(self) -> str:
        return self.node_state if self.online else "offline"

    @property
    def zoom_levels(self) -> tuple[int, ...]:
        levels = (self.info or {}).get("zoom_levels") or [1]
        return tuple(int(z) for z in levels)

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset((self.info or {}).get("capabilities") or ())

    # ------------------------------------------------------------------ frames

    def attach(
        self, maxsize: int = 3, accept: Callable[[dict[str, Any]], bool] | None = None
    ) -> asyncio.Queue[Frame]:
        """Start receiving frames in a fresh queue (one consumer at a time).  With
        ``accept``, only frames whose header it passes are queued."""
        self._queue = asyncio.Queue(maxsize)
        self._accept = accept
        return self._queue

    def detach(self) -> None:
        self._queue = None
        self._accept = None

    def _deliver(self, frame: Frame) -> None:
        q = self._queue
        if q is None:
            return
        accept = self._accept
        if accept is not None and not accept(frame.header):
            return
        if q.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                q.get_nowait()
        q.put_nowait(frame)

    # ------------------------------------------------------------------ tasks

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"link-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.client.close()

    async def call(
        self, cmd: str, args: dict[str, Any] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        return await self.client.call(cmd, args, timeout=timeout)

    async def _fetch_info(self) -> str:
        delay = 0.2
        while True:
            # a probe of its own: rebuilding it after each miss reconnects at once, while the
            # command client keeps its connection, so a reply in flight (a capture's bytes)
            # still arrives when a cut link comes back
            probe = AsyncClient(self.spec.rep, timeout=2.0, context=self.ctx, security=self.security)
            try:
                info = await probe.call("info", timeout=2.0)
                serial = info.get("serial")
                if self.spec.serial and serial != self.spec.serial:
                    # the rig names the body: another camera on this endpoint is not ours
                    raise ValueError(f"serial {serial!r} answers there, the rig expects {self.spec.serial!r}")
                pub = self.spec.pub or pub_endpoint(self.spec.rep, info)
                self.info = info
                self.node_state = str(info.get("state", "unknown"))
                if self.on_info is not None:
                    self.on_info(self, info)
                return pub
            except (RemoteError, ValueError) as exc:
                log.info("%s: node not answering (%s); retrying in %.1f s", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                probe.close()

    async def _run(self) -> None:
        while True:
            pub = await self._fetch_info()
            topic_name = str((self.info or {}).get("name") or self.name)
            await self._subscribe(pub, topic_name)
            # the subscription went quiet: ask the node again (it may have moved or restarted);
            # the command client is not reset here (its calls have their own timeouts)

    async def _subscribe(self, pub: str, topic_name: str) -> None:
        sock: zmq.Socket[Any] = self._sync_ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 8)
        if self.security is not None:
            self.security.apply_client(sock)
        frame_topic = f"frame.{topic_name}"
        status_topic = f"status.{topic_name}"
        sock.setsockopt(zmq.SUBSCRIBE, frame_topic.encode())
        sock.setsockopt(zmq.SUBSCRIBE, status_topic.encode())
        sock.connect(pub)
        self.last_heard = time.monotonic()
        loop = asyncio.get_running_loop()
        fd = sock.fileno()

        def drain() -> None:
            # the descriptor is edge-triggered: read until nothing is left (or hand the
            # loop a turn and come back), else no new edge would ever come
            for _ in range(DRAIN_BATCH):
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    return
                except zmq.ZMQError:  # closed under us
                    return
                self._handle(frames, frame_topic, status_topic)
            loop.call_soon(drain)

        loop.add_reader(fd, drain)
        try:
            drain()
            while True:
                await asyncio.sleep(POLL_MS / 1000)
                drain()  # belt and braces: a missed edge costs at most POLL_MS
                if time.monotonic() - self.last_heard > OFFLINE_AFTER_S:
                    log.info("%s: nothing heard for %.0f s; resubscribing", self.name, OFFLINE_AFTER_S)
                    return
        finally:
            loop.remove_reader(fd)
            sock.close(linger=0)

    def _handle(self, frames: list[bytes], frame_topic: str, status_topic: str) -> None:
        """One message from the node: a status event or a frame."""
        try:
            event = decode_event(frames)
        except ProtocolError:
            return
        now = time.monotonic()
        if event.topic == status_topic:
            self.last_heard = now
            self.node_state = str(event.header.get("state", "unknown"))
            fps = event.header.get("fps")
            self.fps = float(fps) if isinstance(fps, int | float) else 0.0
        elif event.topic == frame_topic and event.payload is not None:
            try:
                FrameHeader.from_header(event.header)
            except ProtocolError:
                return
            self.last_heard = now
            self.frame_at = now
            if self.node_state not in ("liveview", "busy"):
                self.node_state = "liveview"  # frames flow, whatever the last heartbeat said
            self.frames_seen += 1
            frame = Frame(event.header, event.payload, now)
            self.latest = frame
            self._deliver(frame)
