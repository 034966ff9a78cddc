"""Browser actions are checked and turned into controller calls: golden table."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import ErrorCode
from viewer.actions import ActionError, action_id, parse_action, parse_tile_widths

CAMS = ["cam1", "cam2"]

GOOD: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
    (
        {"action": "roi", "camera": "cam1", "roi": [0.1, 0.2, 0.3, 0.4]},
        "roi.set",
        {"camera": "cam1", "roi": [0.1, 0.2, 0.3, 0.4]},
    ),
    ({"action": "autofocus", "camera": "cam2"}, "autofocus", {"camera": "cam2"}),
    (
        {"action": "autofocus", "camera": "cam1", "roi": [0, 0, 1, 1], "strategy": "sweep"},
        "autofocus",
        {"camera": "cam1", "roi": [0.0, 0.0, 1.0, 1.0], "strategy": "sweep"},
    ),
    (
        {"action": "autofocus", "camera": "cam1", "strategy": "refocus"},
        "autofocus",
        {"camera": "cam1", "strategy": "refocus"},
    ),
    ({"action": "cancel", "camera": "cam1"}, "cancel", {"camera": "cam1"}),
    (
        {"action": "nudge", "camera": "cam1", "direction": "near", "level": 3},
        "node.call",
        {"camera": "cam1", "cmd": "focus.drive", "args": {"direction": "near", "level": 3, "count": 1}},
    ),
    (
        {"action": "nudge", "camera": "cam1", "direction": "far", "level": 1, "count": 5},
        "node.call",
        {"camera": "cam1", "cmd": "focus.drive", "args": {"direction": "far", "level": 1, "count": 5}},
    ),
    ({"action": "home", "camera": "cam2"}, "node.call", {"camera": "cam2", "cmd": "focus.home", "args": {}}),
    (
        {"action": "zoom", "camera": "cam1", "zoom": 5, "center": [0.25, 0.75]},
        "node.call",
        {"camera": "cam1", "cmd": "zoom.set", "args": {"zoom": 5, "center": [0.25, 0.75]}},
    ),
    (
        {"action": "zoom", "camera": "cam1", "zoom": 1},
        "node.call",
        {"camera": "cam1", "cmd": "zoom.set", "args": {"zoom": 1}},
    ),
    (
        {"action": "capture", "camera": "cam1"},
        "node.call",
        {"camera": "cam1", "cmd": "capture", "args": {"download": True}},
    ),
]


@pytest.mark.parametrize(("msg", "cmd", "args"), GOOD)
def test_good_actions_become_controller_calls(msg: dict[str, Any], cmd: str, args: dict[str, Any]) -> None:
    call = parse_action(msg, CAMS)
    assert (call.cmd, call.args, call.camera, call.action) == (cmd, args, msg["camera"], msg["action"])
    assert call.timeout > 0


BAD: list[tuple[object, ErrorCode, str]] = [
    ("nudge", ErrorCode.BAD_REQUEST, "JSON object"),
    ([], ErrorCode.BAD_REQUEST, "JSON object"),
    ({"camera": "cam1"}, ErrorCode.BAD_REQUEST, "unknown action"),
    ({"action": "explode", "camera": "cam1"}, ErrorCode.BAD_REQUEST, "unknown action"),
    ({"action": "home"}, ErrorCode.BAD_ARGS, "'camera'"),
    ({"action": "home", "camera": "cam9"}, ErrorCode.NOT_FOUND, "cam1, cam2"),
    ({"action": "roi", "camera": "cam1"}, ErrorCode.BAD_ARGS, "roi"),
    ({"action": "roi", "camera": "cam1", "roi": [0.9, 0.9, 0.5, 0.5]}, ErrorCode.BAD_ARGS, "inside"),
    ({"action": "roi", "camera": "cam1", "roi": [0, 0, "1", 1]}, ErrorCode.BAD_ARGS, "roi"),
    ({"action": "nudge", "camera": "cam1", "direction": "up", "level": 1}, ErrorCode.BAD_ARGS, "direction"),
    ({"action": "nudge", "camera": "cam1", "direction": "far", "level": 4}, ErrorCode.BAD_ARGS, "level"),
    ({"action": "nudge", "camera": "cam1", "direction": "far", "level": True}, ErrorCode.BAD_ARGS, "level"),
    (
        {"action": "nudge", "camera": "cam1", "direction": "far", "level": 1, "count": 0},
        ErrorCode.BAD_ARGS,
        "count",
    ),
    ({"action": "zoom", "camera": "cam1", "zoom": 2}, ErrorCode.BAD_ARGS, "zoom"),
    ({"action": "zoom", "camera": "cam1", "zoom": 5, "center": [2, 0]}, ErrorCode.BAD_ARGS, "center"),
    ({"action": "autofocus", "camera": "cam1", "strategy": "magic"}, ErrorCode.BAD_ARGS, "strategy"),
]


@pytest.mark.parametrize(("msg", "code", "words"), BAD)
def test_bad_actions_name_what_is_wrong(msg: object, code: ErrorCode, words: str) -> None:
    with pytest.raises(ActionError) as info:
        parse_action(msg, CAMS)
    assert info.value.code is code
    assert words in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("msg", "rid"),
    [({"id": "a1"}, "a1"), ({"id": 7}, 7), ({"id": True}, None), ({"id": "x" * 200}, None), ("s", None)],
)
def test_action_id_is_echoed_only_when_usable(msg: object, rid: object) -> None:
    assert action_id(msg) == rid


TILES_GOOD: list[tuple[dict[str, Any], dict[str, int | None]]] = [
    ({"widths": {}}, {}),
    ({"widths": {"cam1": 240}}, {"cam1": 240}),
    ({"widths": {"cam1": 412.5, "cam2": 960}}, {"cam1": 413, "cam2": 960}),  # CSS px x DPR, rounded up
    ({"widths": {"cam1": 0.25}}, {"cam1": 1}),
    ({"widths": {"cam2": None}}, {"cam2": None}),  # forget: full frames again
    ({"widths": {"cam1": 65536}}, {"cam1": 65536}),
]


@pytest.mark.parametrize(("msg", "widths"), TILES_GOOD)
def test_tile_widths_golden(msg: dict[str, Any], widths: dict[str, int | None]) -> None:
    assert parse_tile_widths({"action": "tiles", **msg}, CAMS) == widths


TILES_BAD: list[tuple[dict[str, Any], ErrorCode]] = [
    ({}, ErrorCode.BAD_ARGS),
    ({"widths": [240, 240]}, ErrorCode.BAD_ARGS),
    ({"widths": 240}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam1": -240}}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam1": 0}}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam1": "240"}}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam1": True}}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam1": [240]}}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam1": float("nan")}}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam1": float("inf")}}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam1": 65537}}, ErrorCode.BAD_ARGS),
    ({"widths": {"cam9": 240}}, ErrorCode.NOT_FOUND),
    ({"widths": {"cam1": 240, "cam9": 240}}, ErrorCode.NOT_FOUND),
]


@pytest.mark.parametrize(("msg", "code"), TILES_BAD)
def test_bad_tile_widths_raise_with_a_code(msg: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(ActionError) as info:
        parse_tile_widths({"action": "tiles", **msg}, CAMS)
    assert info.value.code == code
    assert "\n" not in info.value.message
    if code == ErrorCode.NOT_FOUND:
        assert "cam1, cam2" in info.value.message  # names the cameras there are
