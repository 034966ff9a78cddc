"""Named focus positions per camera body, and the positions a focus stack steps through.

A preset is a dead-reckoned motor position (level-1 units from the near end stop, as the
node counts after ``focus.home``) stored under a name in the body's state
(:mod:`controller.state`), so it follows the serial number, not the port.  Pure: no IO.

Errors: every function raises ``protocol.ProtocolError`` (``bad_args`` or ``not_found``)
with a message that names what was wrong.
"""

from __future__ import annotations

import math
from typing import Any

from controller.state import PRESET_RE, CameraState, now_iso
from protocol import ErrorCode, ProtocolError


def check_name(name: str) -> str:
    if not PRESET_RE.match(name):
        raise ProtocolError(
            ErrorCode.BAD_ARGS,
            f"preset name {name!r}: use 1-64 letters, digits, '.', '-' or '_' (a letter or digit first)",
            {"arg": "name"},
        )
    return name


def save(st: CameraState, name: str, position: float) -> dict[str, Any]:
    """Store ``position`` under ``name`` (replacing an older one); the stored entry."""
    check_name(name)
    if not (math.isfinite(position) and position >= 0):
        raise ProtocolError(ErrorCode.BAD_ARGS, "a preset position must be >= 0", {"arg": "position"})
    entry = {"position": round(float(position), 3), "saved": now_iso()}
    st.presets[name] = entry
    return entry


def lookup(st: CameraState, name: str) -> float:
    """The position stored under ``name``.  Raises ProtocolError(not_found) naming the known ones."""
    entry = st.presets.get(name)
    if entry is None:
        known = ", ".join(sorted(st.presets)) or "none"
        raise ProtocolError(
            ErrorCode.NOT_FOUND,
            f"no preset {name!r} for serial {st.serial} (known: {known})",
            {"preset": name},
        )
    return float(entry["position"])


def resolve(st: CameraState, value: Any, arg: str) -> float:
    """A stack end: a number (a position) or a string (a preset name, or a number as text)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        pos = float(value)
    elif isinstance(value, str):
        try:
            pos = float(value)
        except ValueError:
            return lookup(st, value)
    else:
        raise ProtocolError(
            ErrorCode.BAD_ARGS, f"argument {arg!r} must be a preset name or a position", {"arg": arg}
        )
    if not (math.isfinite(pos) and pos >= 0):
        raise ProtocolError(ErrorCode.BAD_ARGS, f"argument {arg!r} must be a position >= 0", {"arg": arg})
    return pos


def stack_positions(start: float, end: float, shots: int) -> list[float]:
    """``shots`` positions evenly from the nearer end to the farther, in the order they are
    shot: always stepping far, so every move approaches from the near side."""
    if shots < 2:
        raise ProtocolError(ErrorCode.BAD_ARGS, "a stack needs at least 2 shots", {"arg": "shots"})
    lo, hi = min(start, end), max(start, end)
    return [round(lo + (hi - lo) * i / (shots - 1), 3) for i in range(shots)]
