"""What goes into a focus search and what comes out of it.

Observations go in; commands come out.  Every type is a frozen, slotted dataclass that
checks its fields when it is built, so a value that exists is a valid value (h11 style).

Errors: constructors raise ``ValueError`` naming the bad field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Direction = Literal["near", "far"]
ZOOM_LEVELS = (1, 5, 10)
SCALES = (1, 2, 4, 8)


def view_window(zoom: int, center: Sequence[float]) -> tuple[float, float, float, float]:
    """The part of the full view a frame magnified ``zoom`` times around ``center`` shows,
    as fractions (x, y, w, h): the camera keeps the window inside the frame."""
    if zoom <= 1:
        return (0.0, 0.0, 1.0, 1.0)
    span = 1.0 / zoom
    x0 = min(max(float(center[0]) - span / 2, 0.0), 1.0 - span)
    y0 = min(max(float(center[1]) - span / 2, 0.0), 1.0 - span)
    return (x0, y0, span, span)


@dataclass(frozen=True, slots=True)
class Observation:
    """One live-view frame, as far as a search cares: its header and its focus measure.

    ``scale`` is the DCT reduction the shell decoded the region at (see
    :attr:`Strategy.wanted_scale`); ``position`` is the node's dead reckoning (None until
    homed) and is informational only.  ``tiles``: the region's energy per tile, row by row
    (:func:`controller.measures.tile_energy`), when the search asked for a grid
    (:attr:`Strategy.wanted_tiles`); empty otherwise.  ``travel``: how far the motor had
    moved along the moves of ``move_id`` when the frame shows (the header's ``travel``;
    None when the node does not know), which places a frame taken while the motor moves.
    ``coarse``: the measure of the same decode shrunk by block means, when the search asked
    for it (:attr:`Strategy.wanted_coarse`); None otherwise.
    """

    seq: int
    t: float
    move_id: int
    settled: bool
    zoom: int
    measure: float
    scale: int = 1
    position: float | None = None
    tiles: tuple[float, ...] = ()
    travel: float | None = None
    coarse: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.measure) or self.measure < 0:
            raise ValueError(f"measure must be a finite number >= 0, got {self.measure!r}")
        if self.zoom < 1:
            raise ValueError(f"zoom must be >= 1, got {self.zoom!r}")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if not all(math.isfinite(v) and v >= 0 for v in self.tiles):
            raise ValueError("tiles must be finite numbers >= 0")
        if self.travel is not None and not math.isfinite(self.travel):
            raise ValueError(f"travel must be a finite number or None, got {self.travel!r}")
        if self.coarse is not None and not (math.isfinite(self.coarse) and self.coarse >= 0):
            raise ValueError(f"coarse must be a finite number >= 0 or None, got {self.coarse!r}")

    @classmethod
    def from_header(
        cls,
        header: Mapping[str, Any],
        measure: float,
        scale: int = 1,
        tiles: tuple[float, ...] = (),
        coarse: float | None = None,
    ) -> Observation:
        """Build from a frame header (protocol field names).  Raises ``KeyError`` or ``ValueError``."""
        pos = header.get("position")
        travel = header.get("travel")
        return cls(
            seq=int(header["seq"]),
            t=float(header["t"]),
            move_id=int(header["move_id"]),
            settled=bool(header["settled"]),
            zoom=int(header.get("zoom", 1)),
            measure=float(measure),
            scale=scale,
            position=None if pos is None else float(pos),
            tiles=tiles,
            travel=None if travel is None else float(travel),
            coarse=coarse,
        )


@dataclass(frozen=True, slots=True)
class Drive:
    """``focus.drive``: ``count`` Canon drives of ``level`` towards ``direction`` (one command)."""

    direction: Direction
    level: int
    count: int = 1

    def __post_init__(self) -> None:
        if self.direction not in ("near", "far"):
            raise ValueError(f"direction must be 'near' or 'far', got {self.direction!r}")
        if self.level not in (1, 2, 3):
            raise ValueError(f"level must be 1, 2 or 3, got {self.level!r}")
        if self.count < 1:
            raise ValueError(f"count must be >= 1, got {self.count!r}")


@dataclass(frozen=True, slots=True)
class Zoom:
    """``zoom.set``: live-view magnification ``level`` around ``center`` (fractions of the view)."""

    level: int
    center: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.level not in ZOOM_LEVELS:
            raise ValueError(f"zoom level must be one of {ZOOM_LEVELS}, got {self.level!r}")
        if self.center is not None and not all(0.0 <= c <= 1.0 for c in self.center):
            raise ValueError(f"zoom centre must be fractions in [0, 1], got {self.center!r}")


@dataclass(frozen=True, slots=True)
class Done:
    """The search is over and focus is set.

    ``position`` is where the search believes the motor is, in level-1 units relative to
    where it started (nominal step sizes); ``node_position`` is the node's own dead
    reckoning from the last header (None when not homed).  ``metrics`` carries counts and
    fit figures for events and benchmarks.
    """

    position: float
    measure: float
    reason: str
    node_position: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Failed:
    """The search gave up; the motor has been sent back to where it started.

    ``reason`` is a short code: ``flat``, ``no_peak``, ``poor_fit``, ``cancelled``,
    ``camera_error``; ``detail`` is one human sentence.
    """

    reason: str
    detail: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)


Move = Drive | Zoom
Command = Drive | Zoom | Done | Failed


class Strategy(Protocol):
    """A focus search as a pure state machine.

    The shell calls ``start`` once, then ``feed`` for every frame of the camera (measured
    at :attr:`wanted_scale` inside the region), ``moved`` whenever the node accepted a
    move it was asked for, and ``cancel`` or ``move_failed`` when those happen.  Every call
    returns commands to carry out in order.  A list holds at most one move (Drive or
    Zoom); the shell must not send the next move before it has called ``moved`` for the
    previous one.  A list that ends with Done or Failed ends the search: send the move in
    it, if any, then report.
    """

    @property
    def wanted_scale(self) -> int:
        """The DCT scale (1, 2, 4, 8) at which the shell should decode the region now."""
        ...

    @property
    def wanted_tiles(self) -> int:
        """n: the shell scores the region's n x n tiles too (Observation.tiles); 0: not."""
        ...

    @property
    def wanted_coarse(self) -> int:
        """k > 1: the shell measures the region's decode shrunk k times by block means too
        (Observation.coarse), a curve as wide as a k times coarser decode's; 0: not."""
        ...

    @property
    def wants_moving(self) -> bool:
        """Whether frames taken while the motor moves (not settled, with ``travel``) are
        wanted now: the shell scores and feeds them too."""
        ...

    @property
    def finished(self) -> bool: ...

    def start(self, now: float) -> list[Command]: ...

    def moved(self, move_id: int, now: float) -> list[Command]: ...

    def feed(self, obs: Observation, now: float) -> list[Command]: ...

    def cancel(self, now: float) -> list[Command]: ...

    def move_failed(self, detail: str, now: float) -> list[Command]: ...
