"""Typed headers of the published events, and the topics they go out on.

``frame.<camera>``: :class:`FrameHeader` plus the camera's JPEG as the payload.
``status.<camera>``: :class:`StatusHeader`, about once a second.
``af.<camera>``: :class:`AfEventHeader`, from the controller.

``from_header`` raises :class:`~protocol.errors.ProtocolError` (bad_request) when a field
is missing or of the wrong type; extra fields are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import Event

FRAME = "frame"
STATUS = "status"
AF = "af"
NODE_STATES = ("starting", "liveview", "idle", "busy", "camera_lost")
AF_KINDS = ("state", "sample", "result")


def topic(kind: str, name: str) -> str:
    """``topic("frame", "cam1") == "frame.cam1"``."""
    return f"{kind}.{name}"


def _want(h: Mapping[str, Any], key: str, types: type | tuple[type, ...], nullable: bool = False) -> Any:
    if key not in h:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"header field '{key}' is missing")
    v = h[key]
    if v is None and nullable:
        return None
    ok = isinstance(v, types) and not (isinstance(v, bool) and bool not in _as_tuple(types))
    if isinstance(v, float) and not math.isfinite(v):
        ok = False
    if not ok:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"header field '{key}' has the wrong type")
    return v


def _as_tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)


_NUM = (int, float)


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """The header of every live-view frame."""

    camera: str
    seq: int  # +1 per published frame
    t: float  # node clock (monotonic seconds) when the frame was read from the camera
    w: int
    h: int
    move_id: int  # id of the last accepted move when the frame was read
    settled: bool  # the node's estimate that the motor was at rest
    position: float | None  # dead-reckoned, level-1 units from the near stop; None until homed
    homed: bool
    zoom: int  # 1, 5 or 10
    zoom_center: tuple[float, float] = (0.5, 0.5)  # fractions of the full view
    # Since 1.8: level-1 units the motor had moved (far positive) at the moment the frame
    # shows, since the moves before ``move_id`` left it, by the node's timing model; None
    # while a zoom change settles, or from an older node.
    travel: float | None = None

    def to_header(self) -> dict[str, Any]:
        d = asdict(self)
        d["zoom_center"] = list(self.zoom_center)
        return d

    @classmethod
    def from_header(cls, h: Mapping[str, Any]) -> FrameHeader:
        zc = h.get("zoom_center", [0.5, 0.5])
        if not (isinstance(zc, list | tuple) and len(zc) == 2 and all(isinstance(c, _NUM) for c in zc)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "header field 'zoom_center' has the wrong type")
        pos = _want(h, "position", _NUM, nullable=True)
        travel = _want(h, "travel", _NUM, nullable=True) if "travel" in h else None
        return cls(
            camera=_want(h, "camera", str),
            seq=_want(h, "seq", int),
            t=float(_want(h, "t", _NUM)),
            w=_want(h, "w", int),
            h=_want(h, "h", int),
            move_id=_want(h, "move_id", int),
            settled=_want(h, "settled", bool),
            position=None if pos is None else float(pos),
            homed=_want(h, "homed", bool),
            zoom=_want(h, "zoom", int),
            zoom_center=(float(zc[0]), float(zc[1])),
            travel=None if travel is None else float(travel),
        )

    def event(self, jpeg: bytes) -> Event:
        return Event(topic(FRAME, self.camera), self.to_header(), jpeg)


@dataclass(frozen=True, slots=True)
class StatusHeader:
    """The node's heartbeat, about once a second."""

    camera: str
    t: float
    state: str  # one of NODE_STATES
    fps: float
    frames: int
    dropped: int
    move_id: int
    position: float | None
    homed: bool
    zoom: int
    busy: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    def to_header(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_header(cls, h: Mapping[str, Any]) -> StatusHeader:
        state = _want(h, "state", str)
        if state not in NODE_STATES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown node state {state!r}")
        versions = h.get("versions", {})
        if not isinstance(versions, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "header field 'versions' has the wrong type")
        pos = _want(h, "position", _NUM, nullable=True)
        return cls(
            camera=_want(h, "camera", str),
            t=float(_want(h, "t", _NUM)),
            state=state,
            fps=float(_want(h, "fps", _NUM)),
            frames=_want(h, "frames", int),
            dropped=_want(h, "dropped", int),
            move_id=_want(h, "move_id", int),
            position=None if pos is None else float(pos),
            homed=_want(h, "homed", bool),
            zoom=_want(h, "zoom", int),
            busy=_want(h, "busy", str, nullable=True) if "busy" in h else None,
            versions={str(k): str(v) for k, v in versions.items()},
        )

    def event(self) -> Event:
        return Event(topic(STATUS, self.camera), self.to_header())


@dataclass(frozen=True, slots=True)
class AfEventHeader:
    """An autofocus event from the controller.

    kind "state": ``state`` changed (e.g. "bracketing", "fine", "done", "failed").
    kind "sample": one scored observation at ``position`` with ``measure``; ``series``
    names what the measure was taken on (view, decode scale): only samples of one series
    share a scale, so a curve is drawn per series.
    kind "result": the run ended; ``result`` holds ok, position, measure, drives, frames,
    seconds and, on failure, reason.
    """

    camera: str
    run_id: int
    kind: str
    t: float
    state: str = ""
    position: float | None = None
    measure: float | None = None
    zoom: int = 1
    result: dict[str, Any] | None = None
    series: str = ""

    def to_header(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_header(cls, h: Mapping[str, Any]) -> AfEventHeader:
        kind = _want(h, "kind", str)
        if kind not in AF_KINDS:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown af event kind {kind!r}")
        res = h.get("result")
        if res is not None and not isinstance(res, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "header field 'result' has the wrong type")
        pos = h.get("position")
        meas = h.get("measure")
        return cls(
            camera=_want(h, "camera", str),
            run_id=_want(h, "run_id", int),
            kind=kind,
            t=float(_want(h, "t", _NUM)),
            state=str(h.get("state", "")),
            position=float(pos) if isinstance(pos, _NUM) and not isinstance(pos, bool) else None,
            measure=float(meas) if isinstance(meas, _NUM) and not isinstance(meas, bool) else None,
            zoom=int(h["zoom"]) if isinstance(h.get("zoom"), int) else 1,
            result=res,
            series=str(h.get("series") or ""),
        )

    def event(self) -> Event:
        return Event(topic(AF, self.camera), self.to_header())
