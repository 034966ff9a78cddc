"""Pure encoding and decoding of the envelope.  No IO.

``encode(message) -> list[bytes]`` gives the frames to send (send a payload with
``copy=False``); ``decode(frames) -> Message`` is its inverse.  Decoding *any* sequence of
byte strings returns a valid message or raises :class:`~protocol.errors.ProtocolError`
(code ``bad_request`` or ``unsupported_version``); never another exception.  Nothing that
arrives is ever unpickled or evaluated: msgpack with extension types refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import ErrorReply, Event, Message, Reply, Request
from protocol.version import PROTOCOL_VERSION

MAX_HEADER_BYTES = 1 << 20  # a request, reply header or event header over 1 MiB is refused
MAX_REPLY_BYTES = 1 << 30  # replies may carry a capture's bytes


def _ext_refused(code: int, data: bytes) -> Any:
    raise ValueError("msgpack extension types are not allowed")


def pack(obj: Mapping[str, Any]) -> bytes:
    """msgpack-encode one map (bin type for bytes, str for text)."""
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def unpack_map(raw: bytes, what: str, limit: int = MAX_HEADER_BYTES) -> dict[str, Any]:
    """Decode one msgpack map; raises ProtocolError(bad_request) on anything else."""
    if len(raw) > limit:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} larger than {limit} bytes")
    try:
        obj = msgpack.unpackb(raw, raw=False, strict_map_key=True, ext_hook=_ext_refused, use_list=True)
    except Exception as exc:  # msgpack raises many kinds; all mean "not valid msgpack"
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"{what} is not valid msgpack: {type(exc).__name__}"
        ) from None
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} must be a msgpack map")
    return obj


def _frame_bytes(frame: object) -> bytes:
    if isinstance(frame, bytes):
        return frame
    if isinstance(frame, bytearray | memoryview):
        return bytes(frame)
    buffer = getattr(frame, "buffer", None)  # zmq.Frame
    if buffer is not None:
        return bytes(buffer)
    raise ProtocolError(ErrorCode.BAD_REQUEST, "frames must be byte strings")


def _check_version(obj: Mapping[str, Any], request_id: str | None) -> None:
    v = obj.get("v")
    if isinstance(v, bool) or not isinstance(v, int):
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, "'v' must be an integer major version", request_id=request_id
        )
    if v != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version {v} is not supported; this peer speaks {PROTOCOL_VERSION}",
            {"supported": [PROTOCOL_VERSION]},
            request_id=request_id,
        )


def _readable_id(obj: Mapping[str, Any]) -> str | None:
    rid = obj.get("id")
    return rid if isinstance(rid, str) and 0 < len(rid) <= 128 else None


# --------------------------------------------------------------------------- encode


def encode(message: Message) -> list[bytes]:
    """The frames of ``message``, ready for ``send_multipart``."""
    if isinstance(message, Request):
        return [pack({"v": PROTOCOL_VERSION, "id": message.id, "cmd": message.cmd, "args": message.args})]
    if isinstance(message, Reply):
        return [pack({"v": PROTOCOL_VERSION, "id": message.id, "ok": True, "result": message.result})]
    if isinstance(message, ErrorReply):
        error: dict[str, Any] = {"code": message.code.value, "message": message.message}
        if message.details is not None:
            error["details"] = message.details
        return [pack({"v": PROTOCOL_VERSION, "id": message.id, "ok": False, "error": error})]
    if isinstance(message, Event):
        header = dict(message.header)
        header["v"] = PROTOCOL_VERSION
        frames = [message.topic.encode("ascii"), pack(header)]
        if message.payload is not None:
            frames.append(
                bytes(message.payload) if not isinstance(message.payload, bytes) else message.payload
            )
        return frames
    raise TypeError(f"not a protocol message: {type(message).__name__}")


# --------------------------------------------------------------------------- decode


def decode_request(frames: Sequence[object]) -> Request:
    """Decode a command request.

    Raises ProtocolError: ``bad_request`` for anything malformed, ``unsupported_version`` for
    another major version.  ``request_id`` is set on the error whenever the id was readable,
    so the error reply can echo it.
    """
    if len(frames) != 1:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a request is one frame, got {len(frames)}")
    obj = unpack_map(_frame_bytes(frames[0]), "request")
    rid = _readable_id(obj)
    _check_version(obj, rid)
    if rid is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "request 'id' must be a non-empty string")
    cmd = obj.get("cmd")
    if not isinstance(cmd, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "request 'cmd' must be a string", request_id=rid)
    args = obj.get("args", {})
    return Request(rid, cmd, args)


def decode_reply(frames: Sequence[object]) -> Reply | ErrorReply:
    """Decode a reply.  Raises ProtocolError (bad_request / unsupported_version)."""
    if len(frames) != 1:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a reply is one frame, got {len(frames)}")
    obj = unpack_map(_frame_bytes(frames[0]), "reply", MAX_REPLY_BYTES)
    rid = _readable_id(obj)
    _check_version(obj, rid)
    if rid is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "reply 'id' must be a non-empty string")
    ok = obj.get("ok")
    if ok is True:
        return Reply(rid, obj.get("result", {}))
    if ok is False:
        err = obj.get("error")
        if not isinstance(err, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a failed reply needs an 'error' map", request_id=rid)
        code, message, details = err.get("code"), err.get("message", ""), err.get("details")
        if not isinstance(code, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "error 'code' must be a string", request_id=rid)
        try:
            known = ErrorCode(code)
        except ValueError:  # a newer peer's code: keep it, as internal
            known, details = (
                ErrorCode.INTERNAL,
                {**(details if isinstance(details, dict) else {}), "code": code},
            )
        if not isinstance(message, str):
            message = str(message)
        return ErrorReply(rid, known, message, details)
    raise ProtocolError(ErrorCode.BAD_REQUEST, "reply 'ok' must be true or false", request_id=rid)


def decode_event(frames: Sequence[object]) -> Event:
    """Decode a published event ``[topic, header(, payload)]``.  Raises ProtocolError."""
    if len(frames) not in (2, 3):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"an event is 2 or 3 frames, got {len(frames)}")
    raw_topic = _frame_bytes(frames[0])
    try:
        topic = raw_topic.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "topic must be ASCII") from None
    header = unpack_map(_frame_bytes(frames[1]), "event header")
    _check_version(header, None)
    del header["v"]
    payload = _frame_bytes(frames[2]) if len(frames) == 3 else None
    return Event(topic, header, payload)


def decode(frames: Sequence[object]) -> Message:
    """Decode any message: one frame is a request or a reply, two or three an event."""
    if not isinstance(frames, Sequence) or isinstance(frames, bytes | bytearray | str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frames must be a sequence of byte strings")
    if len(frames) == 1:
        obj = unpack_map(_frame_bytes(frames[0]), "message", MAX_REPLY_BYTES)
        if "cmd" in obj:
            return decode_request(frames)
        if "ok" in obj:
            return decode_reply(frames)
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, "a one-frame message needs 'cmd' or 'ok'", request_id=_readable_id(obj)
        )
    return decode_event(frames)
