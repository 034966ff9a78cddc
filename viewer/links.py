"""The viewer's ZeroMQ edges: one SUB per camera node, one SUB and one client for the controller.

Each is a long-running coroutine owned by the app's cleanup context (:mod:`viewer.app`);
cancelling it closes its socket.  Every read has a timeout: a subscription that hears
nothing for ``RESUBSCRIBE_AFTER_S`` is rebuilt (a node that restarted, or whose ``info``
names a new PUB port, is picked up again), and every controller call has one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import zmq
import zmq.asyncio

from protocol import AfEventHeader, FrameHeader, ProtocolError, decode_event
from tetherfocus.client import AsyncClient, RemoteError
from viewer.feeds import CameraFeed, Frame, Hub

log = logging.getLogger(__name__)

POLL_MS = 500
RESUBSCRIBE_AFTER_S = 5.0
RCVHWM = 4  # a few frames at most wait in the SUB socket; the viewer keeps only the latest
SAME_CLOCK_WINDOW_S = 60.0
INFO_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def pub_endpoint(rep: str, info: dict[str, Any]) -> str:
    """The node's PUB endpoint: its ``pub`` when concrete, else ``pub_port`` on the rep host.

    Raises ValueError when the info names neither.
    """
    host = urlsplit(rep).hostname or "127.0.0.1"
    pub = info.get("pub")
    if isinstance(pub, str) and pub.startswith("tcp://"):
        if urlsplit(pub).hostname not in (None, "*", "0.0.0.0", "::"):
            return pub
    elif isinstance(pub, str) and pub.startswith(("ipc://", "inproc://")):
        return pub
    port = info.get("pub_port")
    if isinstance(port, int) and not isinstance(port, bool):
        return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"
    raise ValueError("the node's info names no usable pub endpoint")


def publish_wall_time(t: object, mono_now: float, wall_now: float) -> float | None:
    """Map a node's monotonic ``t`` to wall-clock time, when it is this host's clock.

    A node on the same host stamps ``t`` with the same CLOCK_MONOTONIC as the viewer, so
    ``t + (wall_now - mono_now)`` is its wall time.  A ``t`` further than a minute from our
    monotonic clock is another host's (or a virtual) clock: no mapping, None.
    """
    if isinstance(t, bool) or not isinstance(t, int | float):
        return None
    if abs(mono_now - float(t)) > SAME_CLOCK_WINDOW_S:
        return None
    return float(t) + (wall_now - mono_now)


async def resolve_pub(
    feed: CameraFeed, ctx: zmq.asyncio.Context, stop: asyncio.Event, security: Any = None
) -> str | None:
    """Ask the node's ``info`` for its PUB endpoint, retrying with backoff until ``stop``."""
    client = AsyncClient(feed.rep, timeout=3.0, context=ctx, security=security)
    try:
        attempt = 0
        while not stop.is_set():
            try:
                info = await client.call("info")
                return pub_endpoint(feed.rep, info)
            except (RemoteError, ValueError) as exc:
                feed.link_error = f"node {feed.rep}: {exc}"
                log.info("%s: %s", feed.name, feed.link_error)
                client.reset()
            delay = INFO_BACKOFF_S[min(attempt, len(INFO_BACKOFF_S) - 1)]
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        return None
    finally:
        client.close()


def _sub(
    ctx: zmq.asyncio.Context, endpoint: str, topics: list[str], security: Any = None
) -> zmq.asyncio.Socket:
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, RCVHWM)
    if security is not None:  # CURVE client of the node's or controller's PUB
        security.apply_client(sock)
    for t in topics:
        sock.setsockopt(zmq.SUBSCRIBE, t.encode("ascii"))
    sock.connect(endpoint)
    return sock


def handle_node_event(feed: CameraFeed, hub: Hub, frames: list[bytes], now: float, wall: float) -> None:
    """Fold one event from a node into its feed.  Garbage is logged and dropped."""
    try:
        ev = decode_event(frames)
    except ProtocolError as exc:
        log.debug("%s: unreadable event: %s", feed.name, exc.message)
        return
    if ev.topic == f"frame.{feed.name}":
        if ev.payload is None:
            return
        try:
            FrameHeader.from_header(ev.header)
        except ProtocolError as exc:
            log.debug("%s: bad frame header: %s", feed.name, exc.message)
            return
        pub_wall = publish_wall_time(ev.header.get("t"), now, wall)
        feed.put_frame(Frame(ev.header, ev.payload, now, wall, pub_wall))
        if feed.link_error:
            feed.link_error = None
            hub.state_changed()
    elif ev.topic == f"status.{feed.name}":
        before = feed.state(now)
        feed.put_status(ev.header, now)
        if feed.state(now) != before:
            hub.state_changed()


async def node_subscription(
    feed: CameraFeed, hub: Hub, ctx: zmq.asyncio.Context, stop: asyncio.Event, security: Any = None
) -> None:
    """Keep one SUB on the node's PUB; rebuild it after ``RESUBSCRIBE_AFTER_S`` of silence."""
    pinned = feed.pub  # from the rig: never re-resolved
    while not stop.is_set():
        endpoint = pinned or await resolve_pub(feed, ctx, stop, security)
        if endpoint is None:
            return
        feed.pub = endpoint
        sock = _sub(ctx, endpoint, [f"frame.{feed.name}", f"status.{feed.name}"], security)
        log.info("%s: subscribed to %s", feed.name, endpoint)
        heard = time.monotonic()
        try:
            while not stop.is_set():
                if not await sock.poll(timeout=POLL_MS):
                    now = time.monotonic()
                    if now - heard > RESUBSCRIBE_AFTER_S:
                        feed.link_error = f"nothing from {endpoint} for {now - heard:.0f} s"
                        hub.state_changed()
                        break
                    continue
                # Drain what is there; every message is read, only the newest frame is kept.
                while True:
                    try:
                        frames = await sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    heard = time.monotonic()
                    handle_node_event(feed, hub, frames, heard, time.time())
        finally:
            sock.close(linger=0)


def handle_controller_event(hub: Hub, frames: list[bytes], now: float) -> None:
    """Fold one controller event (``af.*`` or ``status.*``) into the hub."""
    try:
        ev = decode_event(frames)
    except ProtocolError:
        return
    kind, _, name = ev.topic.partition(".")
    feed = hub.get(name)
    if feed is None:
        return
    if kind == "af":
        try:
            af = AfEventHeader.from_header(ev.header)
        except ProtocolError as exc:
            log.debug("bad af event: %s", exc.message)
            return
        if af.camera != name or not feed.af.apply(af):
            return
        msg = {"type": "af", **af.to_header(), "af_state": feed.af.state}
        hub.publish_af(msg)
        hub.state_changed()
    elif kind == "status":
        feed.controller_status = {**(feed.controller_status or {}), **ev.header}


async def controller_events(
    hub: Hub, ctx: zmq.asyncio.Context, endpoint: str, stop: asyncio.Event, security: Any = None
) -> None:
    """Subscribe to the controller's ``af.`` and ``status.`` events."""
    while not stop.is_set():
        sock = _sub(ctx, endpoint, ["af.", "status."], security)
        sock.setsockopt(zmq.RCVHWM, 1000)  # af events are small and must not be lost
        heard = time.monotonic()
        try:
            while not stop.is_set():
                if not await sock.poll(timeout=POLL_MS):
                    if time.monotonic() - heard > RESUBSCRIBE_AFTER_S:
                        break
                    continue
                heard = time.monotonic()
                handle_controller_event(hub, await sock.recv_multipart(), heard)
        finally:
            sock.close(linger=0)


async def controller_poll(hub: Hub, client: AsyncClient, stop: asyncio.Event, period: float = 1.0) -> None:
    """Ask the controller's ``status`` every ``period`` s: rois, liveness, last results."""
    while not stop.is_set():
        try:
            result = await client.call("status", timeout=min(3.0, max(period, 1.0)))
            changed = hub.controller_online is not True
            hub.controller_online, hub.controller_error = True, None
            for cam in result.get("cameras", []) if isinstance(result.get("cameras"), list) else []:
                if not isinstance(cam, dict):
                    continue
                feed = hub.get(str(cam.get("name")))
                if feed is None:
                    continue
                feed.controller_status = {**(feed.controller_status or {}), **cam}
                roi = cam.get("roi")
                if isinstance(roi, list | tuple) and len(roi) == 4 and list(roi) != feed.roi:
                    feed.roi = [float(v) for v in roi]
                    changed = True
            if changed:
                hub.state_changed()
        except RemoteError as exc:
            if hub.controller_online is not False or hub.controller_error != str(exc):
                hub.controller_online, hub.controller_error = False, str(exc)
                hub.state_changed()
            client.reset()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
