"""Benchmark case files.

A case file is TOML with ``[[case]]`` tables::

    [[case]]
    scene = "../scenes/tabletop.toml"   # relative to the case file; or a built-in scene name
    roi = [0.55, 0.4, 0.2, 0.2]         # x, y, w, h fractions of the live view
    start = 120                         # optional; else the scene's motor.start
    repeats = 3                         # optional, default 1; repeat k uses seed + k
    name = "cup from near"              # optional label, default "<scene>@<start>"
    seed = 11                           # optional; default the scene's seed
    drift = -25                         # optional: see below

With ``drift``, each run first focuses with ``default`` from ``start`` (not counted), then the
motor is put ``drift`` level-1 steps away (negative: near), its gear as it was, as if focus
had drifted while it held.  The run counted starts there; ``refocus`` recalls the first run.

Errors: :class:`~tetherfocus.errors.UsageError` with one line naming the file, the case
and the key (missing file, bad TOML, unknown key, wrong type, region outside the view).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from protocol import ProtocolError, check_roi
from tetherfocus.errors import UsageError

_KEYS = {"scene", "roi", "start", "repeats", "name", "seed", "drift"}


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    scene: str  # an absolute path to a .toml, or a built-in scene name
    roi: tuple[float, float, float, float]
    start: float | None
    repeats: int
    seed: int | None
    drift: float | None = None  # focus first, then move the motor this far (level-1 steps)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def load_cases(path: str | Path, repeats: int | None = None) -> list[Case]:
    """Read a case file; with ``repeats`` (``--repeats``), every case runs that many times
    instead of its own repeats.  Raises UsageError (one line) for anything wrong in it."""
    if repeats is not None:
        if repeats < 1:
            raise UsageError("--repeats must be at least 1")
        return [replace(c, repeats=repeats) for c in load_cases(path)]
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"case file not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"case file is a directory: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    extra = set(raw) - {"case"}
    if extra:
        raise UsageError(f"{path}: unknown top-level key {sorted(extra)[0]!r} (expected [[case]] tables)")
    tables = raw.get("case")
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"{path}: no [[case]] tables")
    return [_case(path, i, t) for i, t in enumerate(tables, 1)]


def _case(path: Path, i: int, t: Any) -> Case:
    where = f"{path}: case {i}"
    if not isinstance(t, dict):
        raise UsageError(f"{where}: must be a table")
    for key in t:
        if key not in _KEYS:
            raise UsageError(f"{where}: unknown key {key!r} (expected one of: {', '.join(sorted(_KEYS))})")
    scene = t.get("scene")
    if not isinstance(scene, str) or not scene:
        raise UsageError(f"{where}: 'scene' is required: a scene file (relative to the case file) or name")
    if scene.endswith(".toml") or "/" in scene:
        scene_path = (path.parent / scene).resolve()
        if not scene_path.is_file():
            raise UsageError(f"{where}: scene file not found: {scene_path}")
        scene = str(scene_path)
    roi = t.get("roi")
    if not (isinstance(roi, list) and len(roi) == 4 and all(_number(v) for v in roi)):
        raise UsageError(f"{where}: 'roi' is required: [x, y, w, h] fractions of the live view")
    try:
        x, y, w, h = check_roi(roi)
    except ProtocolError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    start = t.get("start")
    if start is not None and not _number(start):
        raise UsageError(f"{where}: 'start' must be a number of level-1 steps from the near end")
    repeats = t.get("repeats", 1)
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise UsageError(f"{where}: 'repeats' must be an integer >= 1")
    seed = t.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise UsageError(f"{where}: 'seed' must be an integer")
    name = t.get("name")
    if name is not None and not isinstance(name, str):
        raise UsageError(f"{where}: 'name' must be a string")
    drift = t.get("drift")
    if drift is not None and not _number(drift):
        raise UsageError(f"{where}: 'drift' must be a number of level-1 steps (negative: near)")
    stem = Path(scene).stem
    label = name or (f"{stem}@{start:g}" if start is not None else stem)
    if drift is not None and not name:
        label += f" drift {drift:+g}"
    return Case(
        label,
        scene,
        (x, y, w, h),
        None if start is None else float(start),
        repeats,
        seed,
        None if drift is None else float(drift),
    )


def refuse_drift(cases: list[Case], command: str) -> None:
    """``command`` runs each case from its start only: a case with a ``drift`` is a
    UsageError naming it (``bench af`` runs them)."""
    for c in cases:
        if c.drift is not None:
            raise UsageError(f"{command}: case {c.name!r} has a drift, which only bench af runs")
