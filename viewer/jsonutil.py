"""JSON for the browser: what msgpack carries (bytes, NaN, non-string keys) made JSON-safe."""

from __future__ import annotations

import json
import math
from typing import Any


def jsonable(v: Any) -> Any:
    """``v`` with bytes summarised, NaN/Infinity as null, keys as strings, tuples as lists."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, bytes | bytearray | memoryview):
        return f"<{len(v)} bytes>"
    if isinstance(v, float) and not math.isfinite(v):  # JSON has no NaN or Infinity
        return None
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return str(v)


def dumps(v: Any) -> str:
    """Compact JSON that ``JSON.parse`` accepts, whatever ``v`` holds."""
    try:
        return json.dumps(v, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(jsonable(v), separators=(",", ":"), allow_nan=False)
