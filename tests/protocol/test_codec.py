"""Golden cases for the envelope: exact bytes, round trips, and each way to be wrong."""

from __future__ import annotations

import msgpack
import pytest

from protocol import (
    ErrorCode,
    ErrorReply,
    Event,
    ProtocolError,
    Reply,
    Request,
    decode,
    decode_event,
    decode_reply,
    decode_request,
    encode,
)


def pk(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


# (message, expected frames) — the exact wire bytes other programs depend on.
GOLDEN = [
    (
        Request("1", "info", {}),
        [bytes.fromhex("84a17601a26964a131a3636d64a4696e666fa46172677380")],
    ),
    (
        Reply("1", {"ok": 1}),
        [pk({"v": 1, "id": "1", "ok": True, "result": {"ok": 1}})],
    ),
    (
        ErrorReply("7", ErrorCode.BUSY, "focus.home is running"),
        [pk({"v": 1, "id": "7", "ok": False, "error": {"code": "busy", "message": "focus.home is running"}})],
    ),
    (
        Event("frame.cam1", {"seq": 3}, b"\xff\xd8jpeg\xff\xd9"),
        [b"frame.cam1", pk({"seq": 3, "v": 1}), b"\xff\xd8jpeg\xff\xd9"],
    ),
    (
        Event("status.cam1", {"state": "liveview"}),
        [b"status.cam1", pk({"state": "liveview", "v": 1})],
    ),
]


@pytest.mark.parametrize(("message", "frames"), GOLDEN)
def test_golden_encode(message: object, frames: list[bytes]) -> None:
    assert encode(message) == frames  # type: ignore[arg-type]


@pytest.mark.parametrize(("message", "frames"), GOLDEN)
def test_golden_decode(message: object, frames: list[bytes]) -> None:
    assert decode(frames) == message


BAD_REQUESTS = [
    # (frames, code, id echoed)
    ([], ErrorCode.BAD_REQUEST, None),
    ([b"", b""], ErrorCode.BAD_REQUEST, None),
    ([b"\xc1"], ErrorCode.BAD_REQUEST, None),  # never-used msgpack byte
    ([pk([1, 2])], ErrorCode.BAD_REQUEST, None),  # not a map
    ([pk({"id": "a", "cmd": "info", "args": {}})], ErrorCode.BAD_REQUEST, "a"),  # no v
    ([pk({"v": True, "id": "a", "cmd": "info"})], ErrorCode.BAD_REQUEST, "a"),
    ([pk({"v": 2, "id": "a", "cmd": "info", "args": {}})], ErrorCode.UNSUPPORTED_VERSION, "a"),
    ([pk({"v": 1, "id": "", "cmd": "info"})], ErrorCode.BAD_REQUEST, None),
    ([pk({"v": 1, "id": 5, "cmd": "info"})], ErrorCode.BAD_REQUEST, None),
    ([pk({"v": 1, "id": "a", "cmd": 5})], ErrorCode.BAD_REQUEST, "a"),
    ([pk({"v": 1, "id": "a", "cmd": "Focus Drive"})], ErrorCode.BAD_REQUEST, "a"),
    ([pk({"v": 1, "id": "a", "cmd": "info", "args": [1]})], ErrorCode.BAD_REQUEST, "a"),
    ([pk({"v": 1, "id": "a", "cmd": "info", "args": {1: 2}})], ErrorCode.BAD_REQUEST, None),  # int key
    ([msgpack.packb({"v": 1}, use_bin_type=True) + b"\x00"], ErrorCode.BAD_REQUEST, None),  # trailing
    ([b"\xd4\x01\x00"], ErrorCode.BAD_REQUEST, None),  # ext type
]


@pytest.mark.parametrize(("frames", "code", "rid"), BAD_REQUESTS)
def test_bad_requests(frames: list[bytes], code: ErrorCode, rid: str | None) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_request(frames)
    assert info.value.code is code
    assert info.value.request_id == rid


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    raw = pk({"v": 1, "id": "x", "cmd": "status", "args": {}, "trace": "abc", "prio": 3})
    assert decode_request([raw]) == Request("x", "status", {})
    raw = pk({"v": 1, "id": "x", "ok": True, "result": {"a": 1}, "server": "new"})
    assert decode_reply([raw]) == Reply("x", {"a": 1})


def test_missing_args_means_empty() -> None:
    assert decode_request([pk({"v": 1, "id": "x", "cmd": "status"})]).args == {}


def test_error_reply_with_details_round_trips() -> None:
    msg = ErrorReply("9", ErrorCode.BAD_ARGS, "argument 'level' must be <= 3", {"arg": "level"})
    assert decode(encode(msg)) == msg


def test_unknown_error_code_from_a_newer_peer_is_kept_as_internal() -> None:
    raw = pk({"v": 1, "id": "9", "ok": False, "error": {"code": "overheated", "message": "hot"}})
    reply = decode_reply([raw])
    assert isinstance(reply, ErrorReply)
    assert reply.code is ErrorCode.INTERNAL
    assert reply.details == {"code": "overheated"}


@pytest.mark.parametrize(
    "frames",
    [
        [b"frame.\xff", pk({"v": 1})],  # non-ASCII topic
        [b"", pk({"v": 1})],  # empty topic
        [b"frame.a b", pk({"v": 1})],  # space in topic
        [b"frame.a", pk({"v": 1}), b"x", b"y"],  # four frames
        [b"frame.a", b"\x93\x01\x02\x03"],  # header not a map
        [b"frame.a", pk({"v": 9})],  # wrong version
    ],
)
def test_bad_events(frames: list[bytes]) -> None:
    with pytest.raises(ProtocolError):
        decode_event(frames)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Request("", "info"),
        lambda: Request("x" * 129, "info"),
        lambda: Request("a", "INFO"),
        lambda: Request("a", "info", {"k": 1, 2: 3}),  # type: ignore[dict-item]
        lambda: Reply("a", [1]),  # type: ignore[arg-type]
        lambda: ErrorReply("a", "no_such_code", "x"),  # type: ignore[arg-type]
        lambda: Event("bad topic", {}),
        lambda: Event("t", {}, "str payload"),  # type: ignore[arg-type]
    ],
)
def test_constructors_validate(build: object) -> None:
    with pytest.raises(ProtocolError):
        build()  # type: ignore[operator]
