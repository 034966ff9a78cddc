"""The closed set of error codes, and the protocol's one exception.

Hierarchy::

    ProtocolError(code: ErrorCode, message: str, details: dict | None, request_id: str | None)

Every decoding or validation failure raises :class:`ProtocolError` and nothing else, so a
server can always turn it into an error reply with a code.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Error codes carried in ``error.code`` of a failed reply.  Closed: no others exist."""

    BAD_REQUEST = "bad_request"  # not a msgpack map of the request shape
    UNSUPPORTED_VERSION = "unsupported_version"  # "v" is not a major version this peer speaks
    UNKNOWN_COMMAND = "unknown_command"  # "cmd" names no command of this service
    BAD_ARGS = "bad_args"  # an argument is missing, of the wrong type or out of range
    BUSY = "busy"  # a long operation is running; try again later
    NOT_SUPPORTED = "not_supported"  # the camera (or this service) lacks the feature
    NOT_READY = "not_ready"  # a precondition is unmet (live view off, not homed)
    NOT_FOUND = "not_found"  # no such camera, preset or config widget
    CAMERA_ERROR = "camera_error"  # the camera refused or failed; includes camera lost
    UNAUTHORIZED = "unauthorized"  # the peer is not allowed to do this
    TIMEOUT = "timeout"  # a deadline passed (camera or downstream node)
    CANCELLED = "cancelled"  # the operation was cancelled
    INTERNAL = "internal"  # a bug; the message says what


ERROR_CODES: frozenset[str] = frozenset(c.value for c in ErrorCode)


class ProtocolError(Exception):
    """A message could not be decoded or validated, or a command failed with a code."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.details = dict(details) if details else None
        self.request_id = request_id
