"""The typed messages of the envelope.  Each validates in its constructor.

Every message on the wire is one of:

- :class:`Request`: ``{"v": 1, "id": str, "cmd": str, "args": map}`` (one frame);
- :class:`Reply`: ``{"v": 1, "id": str, "ok": true, "result": map}`` (one frame);
- :class:`ErrorReply`: ``{"v": 1, "id": str, "ok": false, "error": {"code", "message"[, "details"]}}``;
- :class:`Event`: frames ``[topic, header]`` or ``[topic, header, payload]``.

Construction raises :class:`~protocol.errors.ProtocolError` (never anything else) when a
field is invalid, so a message that exists is a valid message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import ErrorCode, ProtocolError

MAX_ID_LEN = 128
MAX_TOPIC_LEN = 255
_CMD_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_TOPIC_RE = re.compile(r"^[\x21-\x7e]+$")


def _bad(message: str, request_id: str | None = None) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, message, request_id=request_id)


def _check_map(value: object, what: str, request_id: str | None = None) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(f"{what} must be a map", request_id)
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise _bad(f"{what} keys must be strings", request_id)
        out[k] = v
    return out


def _check_id(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LEN:
        raise _bad(f"id must be a non-empty string of at most {MAX_ID_LEN} characters")
    return value


@dataclass(frozen=True, slots=True)
class Request:
    """A command request.  ``cmd`` is dotted lower case, e.g. ``"focus.drive"``."""

    id: str
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_id(self.id)
        if not isinstance(self.cmd, str) or len(self.cmd) > 64 or not _CMD_RE.match(self.cmd):
            raise _bad("cmd must be a dotted lower-case name such as 'focus.drive'", self.id)
        object.__setattr__(self, "args", _check_map(self.args, "args", self.id))


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful reply to the request with the same ``id``."""

    id: str
    result: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_id(self.id)
        object.__setattr__(self, "result", _check_map(self.result, "result", self.id))


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A failed reply: a code from the closed set, a human message, optional details."""

    id: str
    code: ErrorCode
    message: str
    details: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_id(self.id)
        if not isinstance(self.code, ErrorCode):
            try:
                object.__setattr__(self, "code", ErrorCode(self.code))
            except ValueError:
                raise _bad(f"unknown error code {self.code!r}", self.id) from None
        if not isinstance(self.message, str):
            raise _bad("error.message must be a string", self.id)
        if self.details is not None:
            object.__setattr__(self, "details", _check_map(self.details, "error.details", self.id))

    @classmethod
    def from_error(cls, request_id: str, exc: ProtocolError) -> ErrorReply:
        return cls(request_id, exc.code, exc.message, exc.details)


@dataclass(frozen=True, slots=True)
class Event:
    """A published event.  ``topic`` is printable ASCII such as ``"frame.cam1"``."""

    topic: str
    header: dict[str, Any]
    payload: bytes | None = None

    def __post_init__(self) -> None:
        if (
            not isinstance(self.topic, str)
            or not self.topic
            or len(self.topic) > MAX_TOPIC_LEN
            or not _TOPIC_RE.match(self.topic)
        ):
            raise _bad("topic must be 1-255 printable ASCII characters without spaces")
        object.__setattr__(self, "header", _check_map(self.header, "header"))
        if self.payload is not None and not isinstance(self.payload, bytes | bytearray | memoryview):
            raise _bad("payload must be bytes")

    @property
    def kind(self) -> str:
        """The topic's first part: ``"frame"``, ``"status"`` or ``"af"``."""
        return self.topic.split(".", 1)[0]

    @property
    def source(self) -> str:
        """The topic's second part: the camera (or service) name."""
        parts = self.topic.split(".", 1)
        return parts[1] if len(parts) == 2 else ""


Message = Request | Reply | ErrorReply | Event
