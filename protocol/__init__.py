"""protocol: every message on the wire.  Pure: no sockets, no clocks, no IO.

The envelope (docs/protocol.md is the authoritative specification):

- request, one frame: ``{"v": 1, "id": str, "cmd": str, "args": map}``;
- reply, one frame: ``{"v": 1, "id": str, "ok": true, "result": map}`` or
  ``{"v": 1, "id": str, "ok": false, "error": {"code": str, "message": str[, "details": map]}}``;
- event: ``[topic, header]`` or ``[topic, header, payload]``.
"""

from protocol.codec import decode, decode_event, decode_reply, decode_request, encode
from protocol.commands import CONTROLLER_COMMANDS, NODE_COMMANDS
from protocol.errors import ERROR_CODES, ErrorCode, ProtocolError
from protocol.events import AfEventHeader, FrameHeader, StatusHeader, topic
from protocol.messages import ErrorReply, Event, Message, Reply, Request
from protocol.schema import Arg, CommandSpec, check_roi, validate_args
from protocol.version import PROTOCOL_VERSION, SPEC_VERSION

__all__ = [
    "CONTROLLER_COMMANDS",
    "ERROR_CODES",
    "NODE_COMMANDS",
    "PROTOCOL_VERSION",
    "SPEC_VERSION",
    "AfEventHeader",
    "Arg",
    "CommandSpec",
    "ErrorCode",
    "ErrorReply",
    "Event",
    "FrameHeader",
    "Message",
    "ProtocolError",
    "Reply",
    "Request",
    "StatusHeader",
    "check_roi",
    "decode",
    "decode_event",
    "decode_reply",
    "decode_request",
    "encode",
    "topic",
    "validate_args",
]
