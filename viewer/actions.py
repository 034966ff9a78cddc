"""What a browser may ask for, checked, and turned into a controller call.  Pure.

A WebSocket client (or ``POST /api/action``) sends one JSON object per action::

    {"action": "roi",       "camera": "cam1", "roi": [x, y, w, h]}
    {"action": "autofocus", "camera": "cam1", "roi": [x, y, w, h]?,
     "strategy": "default"|"refocus"|"sweep"?}
    {"action": "cancel",    "camera": "cam1"}
    {"action": "nudge",     "camera": "cam1", "direction": "near"|"far", "level": 1|2|3, "count": 1?}
    {"action": "home",      "camera": "cam1"}
    {"action": "zoom",      "camera": "cam1", "zoom": 1|5|10, "center": [x, y]?}
    {"action": "capture",   "camera": "cam1"}

each with an optional ``"id"`` (string or integer) that the reply echoes.  The viewer
drives every one of them through the controller (``node.call`` for the node commands),
never the camera directly.

:func:`parse_action` raises :class:`ActionError` with a code from the protocol's closed set
(``bad_request``, ``bad_args``, ``not_found``) and a one-line message.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol import ErrorCode, ProtocolError, check_roi

ACTIONS = ("roi", "autofocus", "cancel", "nudge", "home", "zoom", "capture")
SESSION_ACTIONS = ("ack", "subscribe", "tiles")  # WebSocket flow control, not forwarded
MAX_TILE_PX = 1 << 16  # a tile wider than this is a mistake, not a screen
ZOOMS = (1, 5, 10)
STRATEGIES = ("default", "refocus", "sweep")

# Seconds to wait for the controller's reply (docs/protocol.md: 30 s for long operations;
# a capture may also have to travel back as a large reply).
TIMEOUTS = {"home": 60.0, "capture": 60.0, "autofocus": 10.0}
DEFAULT_TIMEOUT = 5.0


class ActionError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ControllerCall:
    """A checked action: the controller command to send, its args, and how long to wait."""

    action: str
    camera: str
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT


def _bad(message: str, code: ErrorCode = ErrorCode.BAD_ARGS) -> ActionError:
    return ActionError(code, message)


def action_id(msg: object) -> str | int | None:
    """The ``id`` to echo, if the message has a usable one."""
    if isinstance(msg, Mapping):
        v = msg.get("id")
        if isinstance(v, str) and len(v) <= 128:
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def _int_choice(
    msg: Mapping[str, Any], key: str, choices: tuple[int, ...], default: int | None = None
) -> int:
    v = msg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v not in choices:
        raise _bad(f"'{key}' must be one of {', '.join(map(str, choices))}")
    return v


def _point(v: object) -> list[float]:
    if not (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in v)
        and all(0.0 <= float(c) <= 1.0 for c in v)
    ):
        raise _bad("'center' must be [x, y] fractions of the view (0..1)")
    return [float(v[0]), float(v[1])]


def _roi(v: object) -> list[float]:
    try:
        return check_roi(v)
    except ProtocolError as exc:
        raise _bad(exc.message) from None


def parse_action(msg: object, cameras: Collection[str]) -> ControllerCall:
    """Check one action message and build its controller call.  Raises ActionError."""
    if not isinstance(msg, Mapping):
        raise _bad("an action must be a JSON object", ErrorCode.BAD_REQUEST)
    action = msg.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise _bad(
            f"unknown action {action!r}; known: {', '.join(ACTIONS)}",
            ErrorCode.BAD_REQUEST,
        )
    camera = msg.get("camera")
    if not isinstance(camera, str):
        raise _bad("'camera' must be a camera name")
    if camera not in cameras:
        raise _bad(
            f"no camera {camera!r}; cameras: {', '.join(cameras) or 'none'}",
            ErrorCode.NOT_FOUND,
        )
    if action == "roi":
        return ControllerCall(action, camera, "roi.set", {"camera": camera, "roi": _roi(msg.get("roi"))})
    if action == "autofocus":
        args: dict[str, Any] = {"camera": camera}
        if msg.get("roi") is not None:
            args["roi"] = _roi(msg.get("roi"))
        strategy = msg.get("strategy")
        if strategy is not None:
            if strategy not in STRATEGIES:
                raise _bad(f"'strategy' must be one of {', '.join(STRATEGIES)}")
            args["strategy"] = strategy
        return ControllerCall(action, camera, "autofocus", args, TIMEOUTS["autofocus"])
    if action == "cancel":
        return ControllerCall(action, camera, "cancel", {"camera": camera})
    if action == "nudge":
        direction = msg.get("direction")
        if direction not in ("near", "far"):
            raise _bad("'direction' must be 'near' or 'far'")
        level = _int_choice(msg, "level", (1, 2, 3))
        count = msg.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 50:
            raise _bad("'count' must be an integer from 1 to 50")
        node_args = {"direction": direction, "level": level, "count": count}
        return _node_call(action, camera, "focus.drive", node_args)
    if action == "home":
        return _node_call(action, camera, "focus.home", {})
    if action == "zoom":
        zargs: dict[str, Any] = {"zoom": _int_choice(msg, "zoom", ZOOMS)}
        if msg.get("center") is not None:
            zargs["center"] = _point(msg.get("center"))
        return _node_call(action, camera, "zoom.set", zargs)
    # capture
    return _node_call(action, camera, "capture", {"download": True})


def parse_tile_widths(msg: Mapping[str, Any], cameras: Collection[str]) -> dict[str, int | None]:
    """The ``widths`` of a ``tiles`` message: camera -> device pixels (rounded up), or None.

    ``{"action": "tiles", "widths": {"cam1": 412.5, "cam2": null}}``: each number is how many
    device pixels wide the camera's tile is (CSS width x devicePixelRatio); null forgets the
    declaration (full frames again).  Raises ActionError: ``bad_args`` when ``widths`` is
    not an object or a width is not a positive number up to 65536, ``not_found`` for a
    camera that does not exist.  Nothing is taken from a message with any error in it.
    """
    widths = msg.get("widths")
    if not isinstance(widths, Mapping):
        raise _bad("'widths' must be an object: camera name -> tile width in device pixels, or null")
    out: dict[str, int | None] = {}
    for camera, v in widths.items():
        if camera not in cameras:
            raise _bad(
                f"no camera {camera!r}; cameras: {', '.join(cameras) or 'none'}",
                ErrorCode.NOT_FOUND,
            )
        if v is None:
            out[camera] = None
            continue
        if (
            isinstance(v, bool)
            or not isinstance(v, int | float)
            or not math.isfinite(v)
            or not 0 < v <= MAX_TILE_PX
        ):
            raise _bad(f"width of {camera!r} must be a number of device pixels, 0 < width <= {MAX_TILE_PX}")
        out[camera] = math.ceil(v)
    return out


def _node_call(action: str, camera: str, cmd: str, args: dict[str, Any]) -> ControllerCall:
    timeout = TIMEOUTS.get(action, DEFAULT_TIMEOUT)
    return ControllerCall(action, camera, "node.call", {"camera": camera, "cmd": cmd, "args": args}, timeout)
