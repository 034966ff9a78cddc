"""Clients of a command socket, and a subscriber.  The IO edge around :mod:`protocol`.

No call here blocks forever:

- :class:`Client` is a synchronous REQ client in the Lazy Pirate pattern: every call has a
  timeout, and after a timeout the socket is closed (linger 0) and rebuilt, so a peer that
  restarted is simply reconnected to.
- :class:`AsyncClient` is an asyncio DEALER client that matches replies to requests by
  id, so many calls can be in flight on one connection; each has its own timeout.
- :class:`Subscriber` receives events with a timeout.

Errors::

    RemoteError(code, message, details)   the peer answered with an error reply
     └── CallTimeout                      no reply in time (code "timeout")
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterable, Mapping
from typing import Any

import zmq
import zmq.asyncio

from protocol import (
    ErrorCode,
    ErrorReply,
    Event,
    ProtocolError,
    Reply,
    Request,
    decode_event,
    decode_reply,
    encode,
)

DEFAULT_TIMEOUT = 5.0


class RemoteError(Exception):
    """The peer answered with an error reply (or could not be understood)."""

    def __init__(self, code: ErrorCode, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details = dict(details) if details else None


class CallTimeout(RemoteError):
    def __init__(self, endpoint: str, cmd: str, seconds: float) -> None:
        super().__init__(ErrorCode.TIMEOUT, f"no reply from {endpoint} to {cmd!r} within {seconds:g} s")


_ids = itertools.count(1)


def new_id() -> str:
    return f"{os.getpid():x}-{next(_ids)}"


def _result(reply: Reply | ErrorReply) -> dict[str, Any]:
    if isinstance(reply, ErrorReply):
        raise RemoteError(reply.code, reply.message, reply.details)
    return reply.result


def _decode_reply(frames: list[bytes]) -> Reply | ErrorReply:
    try:
        return decode_reply(frames)
    except ProtocolError as exc:
        raise RemoteError(ErrorCode.BAD_REQUEST, f"unreadable reply: {exc.message}") from None


class Client:
    """A synchronous Lazy Pirate client of one command endpoint.  Not thread-safe."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        context: zmq.Context[Any] | None = None,
        security: Any = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._ctx = context or zmq.Context.instance()
        self._security = security
        self._sock: zmq.Socket[bytes] | None = None

    def _socket(self) -> zmq.Socket[bytes]:
        if self._sock is None:
            s = self._ctx.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            if self._security is not None:
                self._security.apply_client(s)
            s.connect(self.endpoint)
            self._sock = s
        return self._sock

    def _reset(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def call(
        self, cmd: str, args: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send one request and return its result.  Raises RemoteError or CallTimeout."""
        seconds = self.timeout if timeout is None else timeout
        req = Request(new_id(), cmd, dict(args or {}))
        sock = self._socket()
        sock.send_multipart(encode(req))
        if not sock.poll(int(seconds * 1000), zmq.POLLIN):
            self._reset()  # Lazy Pirate: a REQ socket that missed its reply is unusable
            raise CallTimeout(self.endpoint, cmd, seconds)
        reply = _decode_reply(sock.recv_multipart())
        if reply.id != req.id:
            self._reset()
            raise RemoteError(ErrorCode.BAD_REQUEST, "reply id does not match the request")
        return _result(reply)

    def close(self) -> None:
        self._reset()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """An asyncio DEALER client: concurrent calls on one connection, replies matched by id."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        context: zmq.asyncio.Context | None = None,
        security: Any = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._ctx = context or zmq.asyncio.Context.instance()
        self._security = security
        self._sock: zmq.asyncio.Socket | None = None
        self._pending: dict[str, asyncio.Future[Reply | ErrorReply]] = {}
        self._reader: asyncio.Task[None] | None = None

    def _socket(self) -> zmq.asyncio.Socket:
        if self._sock is None:
            s = self._ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            if self._security is not None:
                self._security.apply_client(s)
            s.connect(self.endpoint)
            self._sock = s
            self._reader = asyncio.get_running_loop().create_task(self._read(s))
        return self._sock

    async def _read(self, sock: zmq.asyncio.Socket) -> None:
        try:
            while True:
                frames = await sock.recv_multipart()
                if frames and frames[0] == b"":
                    frames = frames[1:]
                try:
                    reply = decode_reply(frames)
                except ProtocolError:
                    continue  # nothing to match it to
                fut = self._pending.pop(reply.id, None)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
        except (asyncio.CancelledError, zmq.ZMQError):
            return

    def reset(self) -> None:
        """Drop the connection (pending calls fail with timeout); the next call reconnects."""
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self._pending.clear()

    async def call(
        self, cmd: str, args: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send one request; raises RemoteError, or CallTimeout after ``timeout`` seconds."""
        seconds = self.timeout if timeout is None else timeout
        req = Request(new_id(), cmd, dict(args or {}))
        sock = self._socket()
        fut: asyncio.Future[Reply | ErrorReply] = asyncio.get_running_loop().create_future()
        self._pending[req.id] = fut
        await sock.send_multipart([b"", *encode(req)])
        try:
            reply = await asyncio.wait_for(fut, seconds)
        except (TimeoutError, asyncio.CancelledError) as exc:
            self._pending.pop(req.id, None)
            if isinstance(exc, asyncio.CancelledError) and not fut.cancelled():
                raise
            raise CallTimeout(self.endpoint, cmd, seconds) from None
        return _result(reply)

    def close(self) -> None:
        self.reset()


class Subscriber:
    """A SUB socket on one or more PUB endpoints; ``recv`` has a timeout."""

    def __init__(
        self,
        endpoints: str | Iterable[str],
        topics: Iterable[str] = ("",),
        *,
        context: zmq.Context[Any] | None = None,
        rcvhwm: int = 8,
        conflate: bool = False,
        security: Any = None,
    ) -> None:
        self._ctx = context or zmq.Context.instance()
        self.sock = self._ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        if security is not None:
            security.apply_client(self.sock)
        for t in topics:
            self.sock.setsockopt(zmq.SUBSCRIBE, t.encode("ascii"))
        for ep in [endpoints] if isinstance(endpoints, str) else endpoints:
            self.sock.connect(ep)

    def recv(self, timeout: float = DEFAULT_TIMEOUT) -> Event | None:
        """The next event, or None after ``timeout`` seconds.  Raises ProtocolError on garbage."""
        if not self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        return decode_event(self.sock.recv_multipart(copy=True))

    def close(self) -> None:
        self.sock.close(linger=0)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
