"""The node's settings, and the parsing of what a person types for them.

Everything here raises :class:`~tetherfocus.errors.UsageError` with one line that says
what was wrong and what would be right.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from camera_node.backends.base import Backend
from camera_node.clock import Clock
from tetherfocus.endpoints import endpoint_problem
from tetherfocus.errors import UsageError

# Without keys a node only listens on loopback unless told otherwise (tcp://*:5555).
DEFAULT_PUB = "tcp://127.0.0.1:5555"
DEFAULT_REP = "tcp://127.0.0.1:5556"
DEFAULT_FPS = 25.0

# Bounds (seconds); docs/node.md lists them.
CALL_TIMEOUT_S = 10.0  # one camera call (a frame, a drive, a config get/set)
CAPTURE_TIMEOUT_S = 60.0  # a capture, download included
LIVEVIEW_TIMEOUT_S = 15.0  # liveview.start (the mirror takes about 1.2 s)
PART_HOLD_S = 0.25  # a frame waits for a due drive part at most this long past its due time
# A frame read within this of asking for it is placed along the move (``travel``); a
# slower call (a stalled transfer) may bring a frame older than the model's lag says.
TRAVEL_CALL_S = 0.1
ANSWER_HOLD_S = 0.02  # after a move's first settled frame, the next frame's call waits this long
ANSWER_WAIT_S = 0.1  # ... and, once a command has come in meanwhile, this long for its first call
LOCK_TIMEOUT_S = 2.0  # a short command waits this long for the one before it, then "busy"
MAX_PENDING = 16  # commands waiting for the camera beyond this get "busy" at once

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class CameraSpec:
    kind: str  # "sim" or "gphoto2"
    arg: str | None  # the scene (sim) or the port (gphoto2)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    camera: CameraSpec
    name: str
    pub: str = DEFAULT_PUB
    rep: str = DEFAULT_REP
    fps: float = DEFAULT_FPS
    save_dir: Path | None = None
    seed: int | None = None
    liveview: bool = True
    status_interval: float = 1.0
    # mDNS announcement (camera_node.discovery): None off; () on the --rep address; else these IPv4s
    advertise: tuple[str, ...] | None = None
    keys: Path | None = None  # CURVE keys directory (tetherfocus keys init); None: plain sockets


def parse_camera(text: str) -> CameraSpec:
    """``sim``, ``sim:SCENE`` (built-in name or .toml path), ``gphoto2`` or ``gphoto2:PORT``."""
    kind, sep, arg = text.partition(":")
    if kind not in ("sim", "gphoto2"):
        raise UsageError(
            f"--camera {text!r}: expected sim, sim:SCENE, gphoto2 or gphoto2:PORT (e.g. gphoto2:usb:001,005)"
        )
    if sep and not arg:
        raise UsageError(f"--camera {text!r}: nothing after ':'; write {kind} alone or {kind}:VALUE")
    if kind == "gphoto2" and arg and ":" not in arg:
        raise UsageError(f"--camera {text!r}: a port looks like usb:001,005 (see `gphoto2 --auto-detect`)")
    return CameraSpec(kind, arg or None)


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise UsageError(
            f"--name {name!r}: use 1-63 letters, digits, '-' or '_' (it becomes the topic frame.<name>)"
        )
    return name


def check_endpoint(flag: str, endpoint: str) -> str:
    problem = endpoint_problem(endpoint, bind=True)
    if problem is not None:
        raise UsageError(
            f"{flag} {endpoint!r}: {problem}"
            " (expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555, tcp://*:5555, or ipc://PATH)"
        )
    return endpoint


def backend_factory(spec: CameraSpec, clock: Clock, seed: int | None) -> Callable[[], Backend]:
    """A function giving the backend to (re)open.  The simulator is built now (a bad scene
    is a usage error at once) and reused across reconnects; hardware is found afresh on
    every call, on the camera's worker thread."""
    if spec.kind == "sim":
        from camera_node.backends.sim import open_sim_backend

        backend = open_sim_backend(spec.arg, seed=seed, clock=clock)
        return lambda: backend
    from camera_node.backends.gphoto2 import open_gphoto2

    port = spec.arg
    return lambda: open_gphoto2(port, clock)
