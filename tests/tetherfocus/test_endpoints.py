"""tetherfocus.endpoints: one check for every endpoint a person types (golden table)."""

from __future__ import annotations

import pytest

from tetherfocus.endpoints import endpoint_problem


@pytest.mark.parametrize(
    ("value", "bind", "problem"),
    [
        ("tcp://127.0.0.1:5556", False, None),
        ("tcp://camera-3.local:5556", False, None),
        ("tcp://[::1]:5556", False, None),
        ("tcp://*:5555", True, None),
        ("tcp://127.0.0.1:*", True, None),
        ("ipc:///tmp/node.sock", False, None),
        ("inproc://frames", False, None),
        ("tcp://127.0.0.1:65535", False, None),
        ("tcp://127.0.0.1:*", False, "needs a port number to connect to"),
        ("tcp://*:5556", False, "needs a host to connect to"),
        ("tcp://127.0.0.1:99999", True, "has port 99999; ports are 1 to 65535"),  # zmq: 34463
        ("tcp://127.0.0.1:0", True, "has port 0"),
        ("tcp://127.0.0.1", False, "is not tcp://HOST:PORT"),
        ("127.0.0.1:5556", False, "is not tcp://HOST:PORT"),
        ("tcp://a b:1", False, "is not tcp://HOST:PORT"),
        ("udp://127.0.0.1:5556", False, "is not tcp://HOST:PORT"),
        ("ipc://", False, "is not tcp://HOST:PORT"),
        (5556, False, "is not a string"),
    ],
)
def test_endpoint_problem(value: object, bind: bool, problem: str | None) -> None:
    got = endpoint_problem(value, bind=bind)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got, got
