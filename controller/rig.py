"""The rig file: which cameras a controller (or viewer) works with.

Format (TOML), one ``[[camera]]`` table per camera::

    name = "studio"                   # optional: the rig's name

    [[camera]]
    name = "cam1"                     # required, unique; letters, digits, - and _
    rep = "tcp://10.0.0.21:5556"      # required: the node's command endpoint
    pub = "tcp://10.0.0.21:5555"      # optional: else the PUB port the node's info names
    roi = [0.4, 0.4, 0.2, 0.2]        # optional: [x, y, w, h] fractions of the live view
    serial = "083024001234"           # optional: the body's serial number

Errors: :func:`load_rig` raises :class:`tetherfocus.errors.UsageError` with one line that
names the file, the camera and the key at fault.
"""

from __future__ import annotations

import re
import statistics
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.search import MAX_ASYMMETRY
from protocol import ProtocolError, check_roi
from tetherfocus.endpoints import endpoint_problem
from tetherfocus.errors import UsageError

DEFAULT_ROI: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.2)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CAMERA_KEYS = {"name", "rep", "pub", "roi", "serial", "backlash", "asymmetry"}
MAX_BACKLASH = 200.0  # level-1 units: a quarter of a Canon lens's travel
_TOP_KEYS = {"name", "camera"}


@dataclass(frozen=True, slots=True)
class CameraSpec:
    name: str
    rep: str
    pub: str | None = None
    roi: tuple[float, float, float, float] = DEFAULT_ROI
    serial: str | None = None
    backlash: float | None = None  # the lens's slack in level-1 units, when known
    asymmetry: float | None = None  # how much further far drives travel than near, when known

    def search_options(self, strategy: str) -> dict[str, float]:
        """Constructor options of ``strategy`` that this camera's lens sets.

        A lens whose slack is known is landed by it (``cross_slack`` 0: no round trip past
        the reading point, whose direction asymmetry costs precision); otherwise ``default``
        crosses any slack up to its ``cross_slack``.  A lens whose direction asymmetry is
        known has its far and near drives counted by their own travel."""
        out: dict[str, float] = {}
        if strategy not in ("default", "refocus"):
            return out
        if self.backlash is not None:
            out.update(backlash=self.backlash, cross_slack=0.0)
        if self.asymmetry is not None:
            out["asymmetry"] = self.asymmetry
        return out


@dataclass(frozen=True, slots=True)
class Rig:
    cameras: tuple[CameraSpec, ...]
    name: str = "rig"
    path: Path | None = field(default=None, compare=False)

    def camera(self, name: str) -> CameraSpec:
        """The camera called ``name``.  Raises UsageError naming the known cameras."""
        for cam in self.cameras:
            if cam.name == name:
                return cam
        known = ", ".join(c.name for c in self.cameras) or "none"
        raise UsageError(f"no camera named {name!r} in the rig (known: {known})")


def check_bind_endpoint(value: object, where: str) -> str:
    """An endpoint to bind: like a connect endpoint, but the port may be ``*`` (any free one)."""
    problem = endpoint_problem(value, bind=True)
    if problem is not None:
        raise UsageError(f"{where}: {value!r} {problem}; bind to one like tcp://127.0.0.1:5560")
    assert isinstance(value, str)
    return value


def valid_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


def check_endpoint(value: object, where: str) -> str:
    problem = endpoint_problem(value)
    if problem is not None:
        raise UsageError(f"{where}: {value!r} {problem}; give one like tcp://127.0.0.1:5556")
    assert isinstance(value, str)
    return value


SLACK_RUNS = 9  # a camera's slack is summarised over its last runs that measured it


def slack_summary(estimates: Sequence[float]) -> dict[str, float | int] | None:
    """What a camera's last runs measured of its lens's slack: the median of up to
    ``SLACK_RUNS`` readings, in level-1 steps, and how many; None until one has (only a run
    whose way to its reading point reverses once measures it).  Reported so that the
    value can go into rig.toml's ``backlash``; the search does not use it."""
    if not estimates:
        return None
    last = estimates[-SLACK_RUNS:]
    return {"steps": round(statistics.median(last), 1), "runs": len(last)}


def check_backlash(value: object, where: str) -> float:
    """A lens's slack in level-1 steps, 0 to :data:`MAX_BACKLASH`.  Raises UsageError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{where} must be a number of level-1 steps")
    if not 0 <= value <= MAX_BACKLASH:
        raise UsageError(f"{where} must lie within [0, {MAX_BACKLASH:g}] level-1 steps")
    return float(value)


def check_asymmetry(value: object, where: str) -> float:
    """A lens's direction asymmetry: far travel over near travel, less 1 (0.04: far drives
    go 4 % further), within +-:data:`MAX_ASYMMETRY`.  Raises UsageError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(
            f"{where} must be a number, e.g. 0.04 when far drives travel 4 % further than near ones"
        )
    if not -MAX_ASYMMETRY <= value <= MAX_ASYMMETRY:
        raise UsageError(f"{where} must lie within [-{MAX_ASYMMETRY:g}, {MAX_ASYMMETRY:g}], not {value:g}")
    return float(value)


def parse_rig(data: dict[str, Any], source: str = "rig") -> Rig:
    """Build a Rig from parsed TOML.  Raises UsageError."""
    for key in data:
        if key not in _TOP_KEYS:
            raise UsageError(f"{source}: unknown key {key!r} (known: camera, name)")
    cams = data.get("camera")
    if not isinstance(cams, list) or not cams:
        raise UsageError(f"{source}: no [[camera]] tables; each needs name and rep")
    out: list[CameraSpec] = []
    seen: set[str] = set()
    for i, cam in enumerate(cams, 1):
        where = f"{source}: camera {i}"
        if not isinstance(cam, dict):
            raise UsageError(f"{where}: must be a [[camera]] table")
        for key in cam:
            if key not in _CAMERA_KEYS:
                raise UsageError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(_CAMERA_KEYS))})")
        name = cam.get("name")
        if not isinstance(name, str) or not valid_name(name):
            raise UsageError(f"{where}: name must be 1-64 letters, digits, '-' or '_'")
        where = f"{source}: camera {name!r}"
        if name in seen:
            raise UsageError(f"{where}: the name is used twice")
        seen.add(name)
        if "rep" not in cam:
            raise UsageError(f"{where}: rep (the node's command endpoint) is required")
        rep = check_endpoint(cam["rep"], f"{where}: rep")
        pub = check_endpoint(cam["pub"], f"{where}: pub") if "pub" in cam else None
        roi = DEFAULT_ROI
        if "roi" in cam:
            try:
                x, y, w, h = check_roi(cam["roi"])
            except ProtocolError as exc:
                raise UsageError(f"{where}: {exc.message}") from None
            roi = (x, y, w, h)
        serial = cam.get("serial")
        if serial is not None and not isinstance(serial, str):
            raise UsageError(f"{where}: serial must be a string")
        # One node drives one body: two cameras on one node would fight over its motor.  (A
        # serial may repeat: simulated nodes of one scene and seed report the same one.)
        for other in out:
            if other.rep == rep:
                raise UsageError(
                    f"{where}: rep {rep!r} is camera {other.name!r}'s too; each camera has its own node"
                )
        backlash = cam.get("backlash")
        if backlash is not None:
            backlash = check_backlash(backlash, f"{where}: backlash")
        asymmetry = cam.get("asymmetry")
        if asymmetry is not None:
            asymmetry = check_asymmetry(asymmetry, f"{where}: asymmetry")
        out.append(CameraSpec(name, rep, pub, roi, serial, backlash, asymmetry))
    rig_name = data.get("name", "rig")
    if not isinstance(rig_name, str):
        raise UsageError(f"{source}: name must be a string")
    return Rig(tuple(out), rig_name)


def load_rig(path: str | Path) -> Rig:
    """Read and check a rig file.  Raises UsageError with one line."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"rig file {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read rig file {str(p)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{p}: not valid TOML: {exc}") from None
    rig = parse_rig(data, str(p))
    return Rig(rig.cameras, rig.name, p)


def dump_rig(rig: Rig) -> str:
    """The rig as TOML text (for ``rig discover --write`` and the demo)."""
    lines = [f'name = "{rig.name}"', ""]
    for c in rig.cameras:
        lines.append("[[camera]]")
        lines.append(f'name = "{c.name}"')
        lines.append(f'rep = "{c.rep}"')
        if c.pub:
            lines.append(f'pub = "{c.pub}"')
        lines.append("roi = [" + ", ".join(f"{v:g}" for v in c.roi) + "]")
        if c.serial:
            lines.append(f'serial = "{c.serial}"')
        if c.backlash is not None:
            lines.append(f"backlash = {c.backlash!r}")
        if c.asymmetry is not None:
            lines.append(f"asymmetry = {c.asymmetry!r}")
        lines.append("")
    return "\n".join(lines)
