"""The command socket of a service: a ROUTER that behaves like REP towards its clients.

:class:`CommandServer` receives requests, decodes and validates them against the service's
command schemas (:mod:`protocol.commands`), runs each handler as its own task, and always
answers exactly once.  Any exception in a handler becomes an error reply with a code:
:class:`~protocol.errors.ProtocolError` keeps its code, anything else is ``internal`` and
logged.  Because it is a ROUTER, a long operation does not hold up other clients: handlers
decide themselves to answer ``busy``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import zmq
import zmq.asyncio

from protocol import (
    CommandSpec,
    ErrorCode,
    ErrorReply,
    ProtocolError,
    Reply,
    decode_request,
    encode,
    validate_args,
)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64
UNREADABLE_ID = "?"


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Split ROUTER frames into (routing envelope incl. the empty delimiter, body)."""
    for i, f in enumerate(frames):
        if f == b"" and i > 0:
            return frames[: i + 1], frames[i + 1 :]
    return frames[:1], frames[1:]


class CommandServer:
    """Serve ``handlers`` (one per command in ``specs``) on a bound ROUTER socket."""

    def __init__(
        self,
        sock: zmq.asyncio.Socket,
        specs: Mapping[str, CommandSpec],
        handlers: Mapping[str, Handler],
        *,
        name: str = "service",
    ) -> None:
        missing = set(specs) ^ set(handlers)
        if missing:
            raise ValueError(f"handlers and command specs differ: {sorted(missing)}")
        self.sock = sock
        self.specs = dict(specs)
        self.handlers = dict(handlers)
        self.name = name
        self.requests = 0
        self.errors = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def reply(self, envelope: list[bytes], message: Reply | ErrorReply) -> None:
        if isinstance(message, ErrorReply):
            self.errors += 1
        try:
            await self.sock.send_multipart([*envelope, *encode(message)])
        except zmq.ZMQError as exc:  # the peer went away, or we are closing
            log.debug("%s: reply not sent: %s", self.name, exc)

    async def handle(self, envelope: list[bytes], body: list[bytes]) -> None:
        """Decode, validate, dispatch one request; always reply once."""
        rid = UNREADABLE_ID
        try:
            req = decode_request(body)
            rid = req.id
            spec = self.specs.get(req.cmd)
            if spec is None:
                raise ProtocolError(
                    ErrorCode.UNKNOWN_COMMAND,
                    f"unknown command {req.cmd!r}; known: {', '.join(sorted(self.specs))}",
                )
            args = validate_args(spec, req.args)
            result = await self.handlers[req.cmd](args)
            await self.reply(envelope, Reply(rid, result))
        except ProtocolError as exc:
            await self.reply(envelope, ErrorReply(exc.request_id or rid, exc.code, exc.message, exc.details))
        except asyncio.CancelledError:
            await self.reply(envelope, ErrorReply(rid, ErrorCode.CANCELLED, f"{self.name} is shutting down"))
            raise
        except Exception as exc:
            log.exception("%s: internal error", self.name)
            await self.reply(envelope, ErrorReply(rid, ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}"))

    async def serve(self) -> None:
        """Run until cancelled."""
        while True:
            frames = await self.sock.recv_multipart()
            self.requests += 1
            envelope, body = split_envelope(frames)
            if len(self._tasks) >= MAX_IN_FLIGHT:
                await self.reply(
                    envelope, ErrorReply(UNREADABLE_ID, ErrorCode.BUSY, "too many requests in flight")
                )
                continue
            task = asyncio.create_task(self.handle(envelope, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 2.0) -> None:
        """Wait (bounded) for handlers in flight, then cancel what remains."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)


def bind_router(ctx: zmq.asyncio.Context, endpoint: str, security: Any = None) -> zmq.asyncio.Socket:
    """A ROUTER bound to ``endpoint`` with linger 0 and handover off."""
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
    if security is not None:
        security.apply_server(sock)
    sock.bind(endpoint)
    return sock


def bind_pub(
    ctx: zmq.asyncio.Context, endpoint: str, hwm: int = 4, security: Any = None
) -> zmq.asyncio.Socket:
    """A PUB bound to ``endpoint`` with a small send high-water mark: slow subscribers lose frames."""
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, hwm)
    if security is not None:
        security.apply_server(sock)
    sock.bind(endpoint)
    return sock


def bound_endpoint(sock: zmq.asyncio.Socket) -> str:
    """The endpoint actually bound (resolves port 0 / wildcard)."""
    return sock.getsockopt_string(zmq.LAST_ENDPOINT)
