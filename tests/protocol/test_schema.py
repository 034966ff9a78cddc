"""Golden cases for argument validation against the command schemas."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import CONTROLLER_COMMANDS, NODE_COMMANDS, ErrorCode, ProtocolError, validate_args

DRIVE = NODE_COMMANDS["focus.drive"]

OK_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("focus.drive", {"direction": "far", "level": 2}, {"direction": "far", "level": 2, "count": 1}),
    (
        "focus.drive",
        {"direction": "near", "level": 1, "count": 5},
        {"direction": "near", "level": 1, "count": 5},
    ),
    ("focus.drive", {"steps": -40}, {"steps": -40, "count": 1}),
    (
        "focus.drive",
        {"direction": "far", "level": 3, "future_field": 1},
        {"direction": "far", "level": 3, "count": 1},
    ),
    ("zoom.set", {"zoom": 5}, {"zoom": 5}),
    ("zoom.set", {"zoom": 10, "center": [0.25, 1]}, {"zoom": 10, "center": [0.25, 1.0]}),
    ("capture", {}, {"download": True}),
    ("focus.goto", {"position": 400}, {"position": 400.0}),
]


@pytest.mark.parametrize(("cmd", "args", "expected"), OK_CASES)
def test_valid(cmd: str, args: dict[str, Any], expected: dict[str, Any]) -> None:
    assert validate_args(NODE_COMMANDS[cmd], args) == expected


BAD_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("focus.drive", {}, "exactly one"),
    ("focus.drive", {"direction": "far", "level": 2, "steps": 3}, "exactly one"),
    ("focus.drive", {"direction": "far"}, "'level' is required"),
    ("focus.drive", {"direction": "up", "level": 1}, "'direction' must be one of"),
    ("focus.drive", {"direction": "far", "level": 4}, "'level' must be <= 3"),
    ("focus.drive", {"direction": "far", "level": 0}, "'level' must be >= 1"),
    ("focus.drive", {"direction": "far", "level": True}, "'level' must be an integer"),
    ("focus.drive", {"direction": "far", "level": 1.5}, "'level' must be an integer"),
    ("focus.drive", {"direction": "far", "level": 1, "count": 51}, "'count' must be <= 50"),
    ("focus.drive", {"steps": 10**9}, "'steps' must be <= 10000"),
    ("focus.goto", {"position": float("nan")}, "finite number"),
    ("zoom.set", {"zoom": 3}, "'zoom' must be one of"),
    ("zoom.set", {"zoom": 5, "center": [2, 0]}, "within [0, 1]"),
    ("capture", {"download": "yes"}, "true or false"),
    ("config.get", {}, "'name' is required"),
]


@pytest.mark.parametrize(("cmd", "args", "message"), BAD_CASES)
def test_invalid(cmd: str, args: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        validate_args(NODE_COMMANDS[cmd], args)
    assert info.value.code is ErrorCode.BAD_ARGS
    assert message in info.value.message


@pytest.mark.parametrize(
    ("roi", "ok"),
    [
        ([0.4, 0.4, 0.2, 0.2], True),
        ([0, 0, 1, 1], True),
        ([0.9, 0.4, 0.2, 0.2], False),  # spills over the right edge
        ([0.4, 0.4, 0, 0.2], False),  # empty
        ([0.99, 0.99, 0.01, 0.01], True),  # the smallest: 9.6 x 6.4 pixels of 960 x 640
        ([0.5, 0.5, 0.002, 0.002], False),  # 2 x 1 pixels: nothing for a measure to compare
        ([0.0, 0.5, 1.0, 0.003], False),  # a strip 2 pixels high
        ([-0.1, 0.4, 0.2, 0.2], False),
        ([0.4, 0.4, 0.2], False),
        ("centre", False),
    ],
)
def test_roi(roi: Any, ok: bool) -> None:
    spec = CONTROLLER_COMMANDS["roi.set"]
    if ok:
        assert validate_args(spec, {"camera": "c", "roi": roi})["roi"] == [float(x) for x in roi]
    else:
        with pytest.raises(ProtocolError) as info:
            validate_args(spec, {"camera": "c", "roi": roi})
        assert info.value.details == {"arg": "roi"}
