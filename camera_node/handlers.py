"""The node's commands, one small function each; the docstring is the schema's prose.

The arguments arrive already checked against :data:`protocol.NODE_COMMANDS` (types,
ranges, choices, defaults).  Each handler checks its preconditions (capability, live view,
homed) *before* any camera call, so an invalid command never moves the motor.  Errors are
raised as ProtocolError (or BackendError from the camera); the dispatcher in
:mod:`camera_node.service` turns every one into an error reply with a code.

:data:`IMMEDIATE` handlers never touch the camera and answer even while a long command
runs; :data:`CAMERA` handlers run as tasks, one at a time.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camera_node.backends.base import (
    CAP_CAPTURE,
    CAP_FOCUS_LEVELS,
    CAP_FOCUS_STEPS,
    CAP_LIVEVIEW,
    CAP_ZOOM,
    Backend,
    BackendError,
    ConfigItem,
)
from camera_node.config import CAPTURE_TIMEOUT_S, LIVEVIEW_TIMEOUT_S
from camera_node.focusplan import StillDetector, plan_goto
from protocol import PROTOCOL_VERSION, SPEC_VERSION, ErrorCode, ProtocolError
from tetherfocus import __version__

if TYPE_CHECKING:
    from camera_node.service import Node

Result = dict[str, Any]

# Widgets that move the motor or change live view behind the node's back: use the commands.
RESERVED_WIDGETS = {
    "manualfocusdrive": "focus.drive",
    "autofocusdrive": "focus.drive",
    "eoszoom": "zoom.set",
    "eoszoomposition": "zoom.set",
    "viewfinder": "liveview.start / liveview.stop",
}
HOME_NOISE_FRAMES = 5
HOME_MIN_DRIVES = 20  # level-3 drives before the frames may declare the stop (940 units)
HOME_STEPS = 1000  # bodies with integer steps home in drives of this many steps
CAPTURE_AHEAD_MAX_S = 30.0  # capture {at}: at most this far ahead of the node's clock
# capture {at}: the shot reaches the camera thread this long before ``at`` and holds it
# (live view pauses), so a frame being read then cannot delay the shutter
CAPTURE_LEAD_S = 0.5


def _err(code: ErrorCode, message: str) -> ProtocolError:
    return ProtocolError(code, message)


def _need(node: Node, cap: str, what: str) -> None:
    if cap not in node.caps:
        raise _err(ErrorCode.NOT_SUPPORTED, f"{what}: this camera does not support it")


def _need_liveview(node: Node, what: str) -> None:
    if not node.liveview_on:
        raise _err(ErrorCode.NOT_READY, f"{what} works only in live view; send liveview.start first")


# ---------------------------------------------------------------------- immediate


def info(node: Node, args: Result) -> Result:
    """Describe the node and its camera, and where its frames are published."""
    cam = node.info
    return {
        "name": node.name,
        "make": cam.make if cam else "",
        "model": cam.model if cam else "",
        "serial": cam.serial if cam else "",
        "backend": node.config.camera.kind,
        "capabilities": sorted(node.caps),
        "zoom_levels": list(cam.zoom_levels) if cam else [1],
        "protocol": PROTOCOL_VERSION,
        "spec": SPEC_VERSION,
        "version": __version__,
        "pub": node.publisher.endpoint,
        "pub_port": node.publisher.port,
        "motion": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(node.tracker.model).items()},
        "state": node.state,
    }


def clock(node: Node, args: Result) -> Result:
    """The node's clock now: the clock of every 't' the node sends and of capture {at}."""
    return {"t": node.clock.now()}


def status(node: Node, args: Result) -> Result:
    """The node's state now: the status event's fields."""
    h = node.status_header()
    return {
        "state": h.state,
        "fps": h.fps,
        "frames": h.frames,
        "dropped": h.dropped,
        "move_id": h.move_id,
        "position": h.position,
        "homed": h.homed,
        "zoom": h.zoom,
        "busy": h.busy,
        "versions": h.versions,
    }


# ---------------------------------------------------------------------- live view


async def liveview_start(node: Node, args: Result) -> Result:
    """Start live view (about 1.2 s on a DSLR: the mirror goes up) and frame publishing."""
    _need(node, CAP_LIVEVIEW, "live view")
    node.want_liveview = True
    if not node.liveview_on:
        await node.start_liveview()
    return {"state": "liveview"}  # node.state still says busy: this command is running


async def liveview_stop(node: Node, args: Result) -> Result:
    """Stop live view and frame publishing."""
    node.want_liveview = False
    if node.liveview_on:
        node.liveview_on = False
        await node.camera(lambda b: b.liveview_stop())
    return {"state": node.state}


# ---------------------------------------------------------------------- focus


async def _drive(node: Node, direction: str, level: int) -> None:
    """One Canon-style drive; the tracker learns when it was issued.

    The drive's two halves run as one camera job when the body needs no pause between
    them; otherwise as two, the pause spent off the camera thread so live view keeps its
    frames during a many-part drive (the command lock keeps other commands out of the
    gap), and frames make way for the second half when it is due (Node.part_due)."""

    def begin(b: Backend) -> tuple[float | None, float]:
        """The first half, and the second too when no pause is due: (the issue time or
        None, the pause)."""
        b.focus_drive_begin(direction, level)  # type: ignore[arg-type]
        gap = b.drive_gap_s
        if gap > 0:
            return None, gap
        b.focus_drive_end(direction, level)  # type: ignore[arg-type]
        return node.clock.now(), 0.0

    def end(b: Backend) -> float:
        b.focus_drive_end(direction, level)  # type: ignore[arg-type]
        return node.clock.now()

    t, gap = await node.camera(begin)
    if t is None:
        node.part_due(node.clock.now() + gap)
        try:
            await asyncio.sleep(gap)
            t = await node.camera(end)
        finally:
            node.part_sent()
    node.tracker.drive_issued(direction, level, t)  # type: ignore[arg-type]


async def _steps(node: Node, steps: int) -> None:
    def job(b: Backend) -> float:
        b.focus_steps(steps)
        return node.clock.now()

    t = await node.camera(job)
    node.tracker.steps_issued(steps, t)


async def _run_parts(node: Node, parts: list[Callable[[], Awaitable[None]]]) -> None:
    """Issue the camera calls of one accepted move; on a failure, stop waiting for the rest."""
    for i, part in enumerate(parts):
        try:
            await part()
        except BaseException:
            for _ in range(len(parts) - i):
                node.tracker.part_failed()
            raise


def _settle(node: Node) -> Result:
    now = node.clock.now()
    at = node.tracker.settle_at
    return {"settle_s": round(max(0.0, at - now), 4), "settle_at": at, "position": node.tracker.position}


async def focus_drive(node: Node, args: Result) -> Result:
    """{direction, level, count} on Canon-style bodies, or {steps} on integer-step bodies.

    Returns once every drive is issued: move_id, settle_s, settle_at, position."""
    if "steps" in args:
        _need(node, CAP_FOCUS_STEPS, "focus drive by steps (this body takes direction/level)")
        _need_liveview(node, "focus drive")
        steps = int(args["steps"])
        move_id = node.tracker.accept(node.clock.now(), parts=1)
        await _run_parts(node, [lambda: _steps(node, steps)])
    else:
        _need(node, CAP_FOCUS_LEVELS, "focus drive by levels (this body takes steps)")
        _need_liveview(node, "focus drive")
        direction, level, count = args["direction"], int(args["level"]), int(args["count"])
        move_id = node.tracker.accept(node.clock.now(), parts=count)
        await _run_parts(node, [lambda: _drive(node, direction, level)] * count)
    return {"move_id": move_id, **_settle(node)}


async def focus_home(node: Node, args: Result) -> Result:
    """Drive level 3 toward near: at least 20 drives (more than a lens's whole travel), then
    on until the frames of the last drives stop changing (camera_node.focusplan); call that
    position 0."""
    levels = CAP_FOCUS_LEVELS in node.caps
    if not levels:
        _need(node, CAP_FOCUS_STEPS, "focus.home")
    _need_liveview(node, "focus.home")
    max_drives = int(args["max_drives"])
    tracker = node.tracker
    move_id = tracker.accept(node.clock.now(), parts=0)
    tracker.unhome()
    detector = StillDetector(min_drives=min(HOME_MIN_DRIVES, max_drives))
    frame = await node.next_frame(tracker.settle_at)
    detector.noise_frame(frame.jpeg)
    for _ in range(HOME_NOISE_FRAMES - 1):
        frame = await node.next_frame(frame.t + 1e-6)
        detector.noise_frame(frame.jpeg)
    drives = 0
    while drives < max_drives:
        drives += 1
        try:
            await (_drive(node, "near", 3) if levels else _steps(node, -HOME_STEPS))
        except BackendError as exc:
            if levels or exc.code != "camera_error":
                raise
            break  # an integer-step body errors at the end stop: that is the stop
        frame = await node.next_frame(tracker.settle_at)
        if detector.drive_frame(frame.jpeg):
            break
    else:
        raise _err(
            ErrorCode.CAMERA_ERROR,
            f"no end stop found after {max_drives} drives (frames kept changing); raise max_drives",
        )
    tracker.home(node.clock.now())
    return {"move_id": move_id, "position": 0.0, "drives": drives}


async def focus_goto(node: Node, args: Result) -> Result:
    """Move to a dead-reckoned position once homed; the final approach is from the near side."""
    if CAP_FOCUS_LEVELS not in node.caps:
        _need(node, CAP_FOCUS_STEPS, "focus.goto")
    _need_liveview(node, "focus.goto")
    position = node.tracker.position
    if position is None:
        raise _err(ErrorCode.NOT_READY, "focus.goto needs a homed motor; send focus.home first")
    target = float(args["position"])
    parts: list[Callable[[], Awaitable[None]]]
    if CAP_FOCUS_LEVELS in node.caps:
        plan = plan_goto(position, target, node.tracker.model.level_sizes)
        parts = [functools.partial(_drive, node, direction, level) for direction, level in plan]
    else:
        delta = round(target - position)
        parts = [functools.partial(_steps, node, delta)] if delta else []
    move_id = node.tracker.accept(node.clock.now(), parts=len(parts))
    await _run_parts(node, parts)
    return {"move_id": move_id, "drives": len(parts), **_settle(node)}


async def focus_sync(node: Node, args: Result) -> Result:
    """Declare where the motor is (a focuser "sync"): dead reckoning goes on from there.  The
    caller knows better than the ledger, e.g. fine autofocus just found a saved focus.  No
    drive is made; it needs a homed motor, whose ledger it corrects."""
    before = node.tracker.position
    if before is None:
        raise _err(ErrorCode.NOT_READY, "focus.sync needs a homed motor; send focus.home first")
    position = float(args["position"])
    node.tracker.sync(position)
    return {"position": position, "correction": position - before}


# ---------------------------------------------------------------------- zoom, capture


async def zoom_set(node: Node, args: Result) -> Result:
    """Live-view magnification 1, 5 or 10 around a centre given as fractions."""
    _need(node, CAP_ZOOM, "live-view zoom")
    _need_liveview(node, "zoom.set")
    zoom = int(args["zoom"])
    if node.info is not None and zoom not in node.info.zoom_levels:
        raise _err(ErrorCode.BAD_ARGS, f"zoom must be one of {list(node.info.zoom_levels)}")
    c = args.get("center") or [0.5, 0.5]
    center = (float(c[0]), float(c[1]))
    move_id = node.tracker.accept(node.clock.now(), parts=1)

    def job(b: Backend) -> float:
        b.zoom_set(zoom, center)
        return node.clock.now()

    try:
        t = await node.camera(job)
    except BaseException:
        node.tracker.part_failed()
        raise
    node.tracker.zoom_issued(t)
    node.zoom, node.zoom_center = zoom, center
    return {"move_id": move_id, "zoom": zoom, "center": list(center)}


def _save(save_dir: Path, name: str, data: bytes) -> Path:
    save_dir.mkdir(parents=True, exist_ok=True)
    base = os.path.basename(name) or "capture"
    stem, ext = os.path.splitext(base)
    path, n = save_dir / base, 1
    while path.exists():
        path, n = save_dir / f"{stem}-{n}{ext}", n + 1
    path.write_bytes(data)
    return path


async def capture(node: Node, args: Result) -> Result:
    """A full-resolution shot: name, size, sha256, mime, t, position, and data (download) or
    path.  With ``at`` (node clock) the shutter is released then: the call reaches the camera
    thread CAPTURE_LEAD_S early and waits there, so live-view reads cannot delay it."""
    _need(node, CAP_CAPTURE, "capture")
    download = bool(args["download"])
    if not download and node.config.save_dir is None:
        raise _err(ErrorCode.NOT_READY, "download=false needs a node started with --save-dir")
    at: float | None = args.get("at")
    if at is not None:
        ahead = at - node.clock.now()
        if ahead > CAPTURE_AHEAD_MAX_S:
            raise ProtocolError(
                ErrorCode.BAD_ARGS,
                f"argument 'at' is {ahead:.1f} s ahead of the node's clock; at most"
                f" {CAPTURE_AHEAD_MAX_S:g} s (ask 'clock' for the node's time)",
                {"arg": "at"},
            )
        if ahead > CAPTURE_LEAD_S:
            await asyncio.sleep(ahead - CAPTURE_LEAD_S)

    def job(b: Backend) -> tuple[float, float | None, Any]:
        if at is not None:
            node.clock.sleep(at - node.clock.now())
        t = node.clock.now()
        return t, node.tracker.position, b.capture()

    t, position, shot = await node.camera(job, CAPTURE_TIMEOUT_S + CAPTURE_LEAD_S)
    result: Result = {
        "name": shot.name,
        "size": len(shot.data),
        "sha256": hashlib.sha256(shot.data).hexdigest(),
        "mime": shot.mime,
        "t": t,
        "at": at,
        "late_s": None if at is None else t - at,
        "position": position,
    }
    if download:
        result["data"] = shot.data
    else:
        assert node.config.save_dir is not None
        result["path"] = str(_save(node.config.save_dir, shot.name, shot.data).resolve())
    return result


# ---------------------------------------------------------------------- configuration


def _item(item: ConfigItem) -> Result:
    return {
        "name": item.name,
        "label": item.label,
        "type": item.type,
        "value": item.value,
        "readonly": item.readonly,
        "choices": list(item.choices),
        "range": list(item.range) if item.range is not None else None,
        "path": item.path,
    }


async def config_list(node: Node, args: Result) -> Result:
    """Every configuration widget: name, label, type, value, readonly, choices, range, path."""
    items = await node.camera(lambda b: b.config_list(), LIVEVIEW_TIMEOUT_S)
    return {"items": [_item(i) for i in items]}


async def config_get(node: Node, args: Result) -> Result:
    """One widget by name; not_found when the body has none of that name."""
    name = args["name"]
    return {"item": _item(await node.camera(lambda b: b.config_get(name)))}


async def config_set(node: Node, args: Result) -> Result:
    """Set a widget, checked against its type and choices; the widget as it reads afterwards."""
    name, value = args["name"], args["value"]
    if name in RESERVED_WIDGETS:
        raise _err(ErrorCode.BAD_ARGS, f"{name!r} is driven by the node; use {RESERVED_WIDGETS[name]}")
    try:
        item = await node.camera(lambda b: b.config_set(name, value))
    except BackendError as exc:
        if exc.code in ("bad_args", "not_found"):
            raise _err(ErrorCode(exc.code), exc.message) from None
        raise
    return {"item": _item(item)}


IMMEDIATE: dict[str, Callable[[Node, Result], Result]] = {"info": info, "status": status, "clock": clock}
CAMERA: dict[str, Callable[[Node, Result], Awaitable[Result]]] = {
    "liveview.start": liveview_start,
    "liveview.stop": liveview_stop,
    "focus.drive": focus_drive,
    "focus.home": focus_home,
    "focus.goto": focus_goto,
    "focus.sync": focus_sync,
    "zoom.set": zoom_set,
    "capture": capture,
    "config.list": config_list,
    "config.get": config_get,
    "config.set": config_set,
}
HANDLERS: frozenset[str] = frozenset(IMMEDIATE) | frozenset(CAMERA)
