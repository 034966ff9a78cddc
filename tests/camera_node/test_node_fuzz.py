"""10,000 malformed requests: each answered with an error reply and a code; the motor never moves.

The requests are random bytes, truncated and byte-mutated msgpack of valid requests, wrong
types, unknown commands, out-of-range values, wrong versions and odd frame layouts.  Any
candidate that would be a *valid* command is discarded, so every reply must be an error.
Afterwards the node's move_id (status, and the frame headers) has not changed.
"""

from __future__ import annotations

import random
from typing import Any

import msgpack
import pytest
import zmq

from protocol import ERROR_CODES, NODE_COMMANDS, ProtocolError, decode_request, validate_args
from tests.camera_node.nodeproc import NodeProc
from tetherfocus.client import Client, Subscriber

pytestmark = pytest.mark.live

N = 10_000
WINDOW = 50  # requests in flight at once (the node serves many clients concurrently)

VALID: list[dict[str, Any]] = [
    {"v": 1, "id": "a", "cmd": "focus.drive", "args": {"direction": "near", "level": 2, "count": 3}},
    {"v": 1, "id": "b", "cmd": "focus.goto", "args": {"position": 120.0}},
    {"v": 1, "id": "c", "cmd": "zoom.set", "args": {"zoom": 5, "center": [0.5, 0.5]}},
    {"v": 1, "id": "d", "cmd": "focus.home", "args": {"max_drives": 10}},
    {"v": 1, "id": "e", "cmd": "config.set", "args": {"name": "iso", "value": "400"}},
]
WRONG: list[Any] = [
    None,
    True,
    -1,
    0,
    4,
    51,
    1e9,
    float("nan"),
    "",
    "x" * 300,
    [],
    {},
    [1, 2],
    b"\x00",
    -10001,
    3.5,
]


def _is_valid(raw: bytes) -> bool:
    """Whether the node could act on it (then it is not a malformed request)."""
    try:
        req = decode_request([raw])
        spec = NODE_COMMANDS.get(req.cmd)
        if spec is None:
            return False
        validate_args(spec, req.args)
    except ProtocolError:
        return False
    return True


def _candidate(rng: random.Random) -> list[bytes]:
    kind = rng.randrange(9)
    base = rng.choice(VALID)
    if kind == 0:
        return [rng.randbytes(rng.randrange(0, 64))]
    if kind == 1:
        raw = msgpack.packb(base)
        return [raw[: rng.randrange(0, len(raw))]]
    if kind == 2:
        raw = bytearray(msgpack.packb(base))
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return [bytes(raw)]
    msg = {**base, "args": dict(base["args"])}
    if kind == 3:  # an argument of the wrong type or out of range
        msg["args"][rng.choice(list(msg["args"]))] = rng.choice(WRONG)
    elif kind == 4:
        msg["cmd"] = rng.choice(["focus.spin", "Focus.Drive", "", "info ", "capture.all", "x" * 70, 7, None])
    elif kind == 5:
        msg["v"] = rng.choice([0, 2, 99, "1", None, 1.0, True])
    elif kind == 6:
        msg[rng.choice(["id", "args"])] = rng.choice(WRONG)
    elif kind == 7:
        return [msgpack.packb(msg), msgpack.packb(msg)]  # two payload frames
    else:
        return [msgpack.packb(rng.choice([[1, 2], "str", 5, None, {"v": 1}]))]
    return [msgpack.packb(msg)]


def _malformed(rng: random.Random) -> list[bytes]:
    while True:
        frames = _candidate(rng)
        if len(frames) != 1 or not _is_valid(frames[0]):
            return frames


def test_ten_thousand_malformed_requests(sim_node: NodeProc) -> None:
    rng = random.Random(20260101)
    with Client(sim_node.rep) as c:
        before = c.call("status")["move_id"]
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVTIMEO, 10000)
    dealer.connect(sim_node.rep)
    codes: dict[str, int] = {}
    try:
        sent = 0
        while sent < N:
            batch = min(WINDOW, N - sent)
            for _ in range(batch):
                dealer.send_multipart([b"", *_malformed(rng)])  # REQ-style envelope
            for _ in range(batch):
                frames = dealer.recv_multipart()
                assert frames[0] == b"" and len(frames) == 2
                reply = msgpack.unpackb(frames[1])
                assert reply["v"] == 1 and reply["ok"] is False
                assert isinstance(reply["id"], str) and reply["id"]
                code = reply["error"]["code"]
                assert code in ERROR_CODES and isinstance(reply["error"]["message"], str)
                codes[code] = codes.get(code, 0) + 1
            sent += batch
    finally:
        ctx.destroy(linger=0)
    assert sum(codes.values()) == N
    assert {"bad_request", "bad_args", "unknown_command", "unsupported_version"} <= set(codes)
    assert "internal" not in codes
    with Client(sim_node.rep) as c:
        status = c.call("status")
    assert status["move_id"] == before and status["state"] == "liveview"
    with Subscriber(sim_node.pub, ["frame.cam1"]) as sub:
        frame = sub.recv(10)
    assert frame is not None and frame.header["move_id"] == before


def test_dealer_without_delimiter_and_odd_layouts(sim_node: NodeProc) -> None:
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVTIMEO, 10000)
    dealer.connect(sim_node.rep)
    try:
        ok = msgpack.packb({"v": 1, "id": "s1", "cmd": "status", "args": {}})
        dealer.send_multipart([ok])  # no delimiter: the reply comes back without one
        frames = dealer.recv_multipart()
        assert len(frames) == 1 and msgpack.unpackb(frames[0])["ok"] is True
        for layout in ([b""], [b"", b""], [b"", b"", ok], [b"", ok, ok]):
            dealer.send_multipart(layout)
            reply = msgpack.unpackb(dealer.recv_multipart()[-1])
            assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
    finally:
        ctx.destroy(linger=0)
