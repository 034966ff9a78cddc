"""The PUB face of the node: frames and status.

Bounded memory: the socket's send high-water mark is :data:`SNDHWM` messages per
subscriber; a slow or absent subscriber loses frames (ZeroMQ drops at the HWM on a PUB
socket), nothing queues in the node.  A frame is ``[b"frame.<name>", header, jpeg]``; the
JPEG goes out as its own frame with ``copy=False``: the camera's bytes, untouched (copied
into ZeroMQ below :data:`COPY_THRESHOLD`, which costs less CPU than zero-copy's bookkeeping).

The frame header is packed by :func:`frame_header_bytes`, a direct build of the map that
:func:`protocol.encode` makes from :meth:`FrameHeader.to_header` (the same bytes, tested),
without the deep copy of ``dataclasses.asdict``: it is the node's one per-frame encode.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import zmq
import zmq.asyncio

from protocol import PROTOCOL_VERSION, FrameHeader, StatusHeader, encode
from protocol.codec import pack
from protocol.events import FRAME, topic

SNDHWM = 4
COPY_THRESHOLD = 1 << 20  # bytes: frames below it are copied into ZeroMQ (see Publisher)
_FRAME_FIELDS = tuple(f.name for f in dataclasses.fields(FrameHeader))


def frame_header_bytes(header: FrameHeader) -> bytes:
    """The packed header frame of ``header``: ``encode(header.event(jpeg))[1]``, faster."""
    d = {name: getattr(header, name) for name in _FRAME_FIELDS}
    d["zoom_center"] = list(header.zoom_center)
    d["v"] = PROTOCOL_VERSION
    return pack(d)


def bind(sock: zmq.Socket[Any] | zmq.asyncio.Socket, endpoint: str) -> str:
    """Bind and return the endpoint as bound (a ``*`` port resolved)."""
    sock.bind(endpoint)
    last = sock.getsockopt(zmq.LAST_ENDPOINT)
    return last.decode() if isinstance(last, bytes) else str(last)


class Publisher:
    """Owns the PUB socket.  Used from the event-loop thread only.

    The socket is a plain (blocking-API) one on the same context: a PUB send never waits,
    so there is nothing to await, and ``zmq.Again`` surfaces directly.
    """

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, security: Any = None) -> None:
        self._ctx: zmq.Context[Any] = zmq.Context.shadow(ctx.underlying)
        self.sock: zmq.Socket[Any] = self._ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.SNDHWM, SNDHWM)
        self.sock.setsockopt(zmq.LINGER, 0)
        # copy=False hands pyzmq the bytes without a copy, but each such frame is freed
        # through its garbage-collector thread (a wake-up and a message per frame); below
        # this size a memcpy is cheaper (measured: 100 kB JPEG, 270 -> 180 us of CPU per frame)
        self.sock.copy_threshold = COPY_THRESHOLD
        if security is not None:  # CURVE server: only authorized subscribers (ZAP) get frames
            security.apply_server(self.sock)
        self.endpoint = bind(self.sock, endpoint)
        self.sent = 0
        self._topics: dict[str, bytes] = {}

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1]) if self.endpoint.startswith("tcp://") else 0

    def frame(self, header: FrameHeader, jpeg: bytes) -> None:
        """Hand one frame to ZeroMQ (never blocks; dropped at the HWM)."""
        name = header.camera
        t = self._topics.get(name)
        if t is None:
            t = self._topics[name] = topic(FRAME, name).encode("ascii")
        self._send([t, frame_header_bytes(header), jpeg])

    def status(self, header: StatusHeader) -> None:
        self._send(encode(header.event()))

    def _send(self, frames: list[Any]) -> None:
        try:
            self.sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
            self.sent += 1
        except zmq.Again:  # a PUB socket drops rather than blocks; belt and braces
            pass

    def close(self) -> None:
        self.sock.close(linger=0)
