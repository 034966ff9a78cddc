"""Decoding ANY sequence of byte strings returns a valid message or raises ProtocolError.

Property-based: random frames, truncations and mutations of valid messages, and random
msgpack structures of the right and wrong shapes.  4 properties x 3,000 examples = 12,000
inputs per run (checked by the last test), plus hypothesis' own shrinking.
"""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import ERROR_CODES, ErrorReply, Event, ProtocolError, Reply, Request, decode, encode

EXAMPLES = 3000
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COUNT = {"n": 0}


def check(frames: list[bytes]) -> None:
    COUNT["n"] += 1
    try:
        msg = decode(frames)
    except ProtocolError as exc:
        assert exc.code.value in ERROR_CODES
        return
    assert isinstance(msg, Request | Reply | ErrorReply | Event)
    # whatever decodes must encode again and decode to the same message (compared as the
    # bytes it encodes to: a flipped bit can make a float NaN, and NaN != NaN)
    assert encode(decode(encode(msg))) == encode(msg)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)
keys = st.sampled_from(["v", "id", "cmd", "args", "ok", "result", "error", "code", "message", "details"])
envelope_like = st.dictionaries(st.one_of(keys, st.text(max_size=6)), values, max_size=7)

valid_messages = st.one_of(
    st.builds(
        lambda i, c, a: Request(i, c, a),
        st.text(min_size=1, max_size=10),
        st.sampled_from(["info", "status", "focus.drive", "zoom.set", "config.get"]),
        st.dictionaries(st.text(max_size=6), scalars, max_size=4),
    ),
    st.builds(
        lambda i, r: Reply(i, r),
        st.text(min_size=1, max_size=10),
        st.dictionaries(st.text(max_size=6), scalars),
    ),
    st.builds(
        lambda i, c, m: ErrorReply(i, c, m),
        st.text(min_size=1, max_size=10),
        st.sampled_from(sorted(ERROR_CODES)),
        st.text(max_size=20),
    ),
    st.builds(
        lambda t, h, p: Event(t, h, p),
        st.from_regex(r"\A(frame|status|af)\.[a-z0-9]{1,8}\Z"),
        st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k != "v"), scalars, max_size=4),
        st.one_of(st.none(), st.binary(max_size=64)),
    ),
)


@SETTINGS
@given(st.lists(st.binary(max_size=64), max_size=4))
def test_random_frames(frames: list[bytes]) -> None:
    check(frames)


@SETTINGS
@given(valid_messages, st.data())
def test_truncated_valid_messages(msg: Any, data: st.DataObject) -> None:
    frames = encode(msg)
    i = data.draw(st.integers(0, len(frames) - 1))
    cut = data.draw(st.integers(0, max(0, len(frames[i]) - 1)))
    frames[i] = frames[i][:cut]
    drop = data.draw(st.booleans())
    check(frames[:-1] if drop and len(frames) > 1 else frames)


@SETTINGS
@given(valid_messages, st.data())
def test_mutated_valid_messages(msg: Any, data: st.DataObject) -> None:
    frames = [bytearray(f) for f in encode(msg)]
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(frames) - 1))
        f = frames[i]
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "dup_frame"]))
        if op == "flip" and f:
            j = data.draw(st.integers(0, len(f) - 1))
            f[j] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "insert":
            j = data.draw(st.integers(0, len(f)))
            f[j:j] = data.draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and f:
            j = data.draw(st.integers(0, len(f) - 1))
            del f[j]
        elif op == "dup_frame":
            frames.insert(i, bytearray(f))
    check([bytes(f) for f in frames])


@SETTINGS
@given(envelope_like, st.integers(0, 3))
def test_random_structures(obj: dict[Any, Any], extra_frames: int) -> None:
    try:
        raw = msgpack.packb(obj, use_bin_type=True)
    except (OverflowError, ValueError, TypeError):
        return
    check([b"frame.x"] * (extra_frames > 0) + [raw] + [b"payload"] * max(0, extra_frames - 1))


def test_fuzz_ran_at_least_10000_inputs() -> None:
    # pytest runs the module's tests in file order, so the four properties ran above.
    assert COUNT["n"] >= 10_000, COUNT["n"]
