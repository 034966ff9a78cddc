"""A small, declarative schema for command arguments, and its validator.

Each command of each service is described by a :class:`CommandSpec` (see
:mod:`protocol.commands`).  :func:`validate_args` checks a request's ``args`` against it,
fills defaults, ignores unknown extra fields (so newer clients can talk to older servers),
and raises ``ProtocolError(bad_args)`` naming the offending argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from protocol.errors import ErrorCode, ProtocolError

Kind = Literal["str", "int", "float", "bool", "bytes", "map", "list", "roi", "point", "any"]


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument: its msgpack kind, whether required, its default and its bounds."""

    name: str
    kind: Kind
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command: name, what it does, its arguments, its result fields and its errors."""

    name: str
    summary: str
    args: tuple[Arg, ...] = ()
    result: tuple[tuple[str, str], ...] = ()  # (field, "type: meaning")
    errors: tuple[ErrorCode, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()  # exactly one of these groups must be given
    long: bool = False  # a long operation: others get "busy" while it runs


def _fail(name: str, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_ARGS, f"argument '{name}' {why}", {"arg": name})


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check(arg: Arg, v: Any) -> Any:
    k = arg.kind
    if k == "str":
        if not isinstance(v, str):
            raise _fail(arg.name, "must be a string")
    elif k == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise _fail(arg.name, "must be an integer")
    elif k == "float":
        if not _is_number(v):
            raise _fail(arg.name, "must be a finite number")
        v = float(v)
    elif k == "bool":
        if not isinstance(v, bool):
            raise _fail(arg.name, "must be true or false")
    elif k == "bytes":
        if not isinstance(v, bytes):
            raise _fail(arg.name, "must be binary")
    elif k == "map":
        if not isinstance(v, dict):
            raise _fail(arg.name, "must be a map")
    elif k == "list":
        if not isinstance(v, list):
            raise _fail(arg.name, "must be a list")
    elif k == "roi":
        v = check_roi(v, arg.name)
    elif k == "point":
        if not (isinstance(v, list | tuple) and len(v) == 2 and all(_is_number(x) for x in v)):
            raise _fail(arg.name, "must be [x, y] fractions")
        v = [float(v[0]), float(v[1])]
        if not all(0.0 <= x <= 1.0 for x in v):
            raise _fail(arg.name, "must lie within [0, 1]")
    if arg.choices is not None and v not in arg.choices:
        shown = ", ".join(repr(c) for c in arg.choices)
        raise _fail(arg.name, f"must be one of {shown}")
    if arg.minimum is not None and _is_number(v) and v < arg.minimum:
        raise _fail(arg.name, f"must be >= {arg.minimum:g}")
    if arg.maximum is not None and _is_number(v) and v > arg.maximum:
        raise _fail(arg.name, f"must be <= {arg.maximum:g}")
    return v


MIN_ROI_SIDE = 0.01  # of the view: 9.6 x 6.4 pixels of a 960 x 640 live view


def check_roi(v: object, name: str = "roi") -> list[float]:
    """A region of interest ``[x, y, w, h]`` as fractions, inside the unit square, at
    least :data:`MIN_ROI_SIDE` wide and high.

    Raises ProtocolError(bad_args).
    """
    if not (isinstance(v, list | tuple) and len(v) == 4 and all(_is_number(x) for x in v)):
        raise _fail(name, "must be [x, y, w, h] fractions of the view")
    x, y, w, h = (float(c) for c in v)
    if not (0.0 <= x < 1.0 and 0.0 <= y < 1.0 and 0.0 < w <= 1.0 and 0.0 < h <= 1.0):
        raise _fail(name, "must have 0 <= x, y < 1 and 0 < w, h <= 1")
    if x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9:
        raise _fail(name, "must lie inside the view (x + w <= 1, y + h <= 1)")
    if w < MIN_ROI_SIDE or h < MIN_ROI_SIDE:
        raise _fail(
            name,
            f"must be at least {MIN_ROI_SIDE:g} of the view wide and high, not {w:g} x {h:g}:"
            " a focus measure needs pixels to compare",
        )
    return [x, y, w, h]


def validate_args(spec: CommandSpec, args: Mapping[str, Any]) -> dict[str, Any]:
    """Checked arguments with defaults filled in.  Raises ProtocolError(bad_args)."""
    out: dict[str, Any] = {}
    for arg in spec.args:
        if arg.name in args and args[arg.name] is not None:
            out[arg.name] = _check(arg, args[arg.name])
        elif arg.required:
            raise _fail(arg.name, "is required")
        elif arg.default is not None:
            out[arg.name] = arg.default
    if spec.one_of:
        given = [g for g in spec.one_of if any(n in args and args[n] is not None for n in g)]
        if len(given) != 1:
            groups = " or ".join("{" + ", ".join(g) + "}" for g in spec.one_of)
            raise ProtocolError(ErrorCode.BAD_ARGS, f"give exactly one of {groups}")
        missing = [n for n in given[0] if n not in out]
        if missing:
            raise _fail(missing[0], "is required with " + ", ".join(given[0]))
        for group in spec.one_of:
            if group is not given[0]:
                for n in group:
                    out.pop(n, None)
    return out
