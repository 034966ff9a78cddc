"""The libgphoto2 backend: one :class:`~camera_node.backends.base.Backend` over any GPCamera.

The same code drives a real body (``gphoto2.Camera``, see :func:`open_gphoto2`) and the
simulated one (the facade of :mod:`camera_node.sim`), so the Canon and Nikon paths that
tests exercise are the paths that run on hardware.

What it knows about bodies (all from public libgphoto2 behaviour, camlibs/ptp2/config.c):

- Canon: ``manualfocusdrive`` is a RADIO widget (Near 1/2/3, None, Far 1/2/3).  A value
  only counts as a change when the string changes, so every drive is "None", a pause of
  :data:`TOGGLE_GAP_S`, then the target.  The backend sets "None" again right after each
  drive (it sends nothing to the body), so a drive that comes more than the pause after
  the last one goes out at once; drives stay at least the pause apart.  Live view needs
  ``viewfinder`` = 1 on bodies that have it.  ``eoszoom`` (TEXT "1"/"5"/"10") and
  ``eoszoomposition`` (TEXT "x,y") magnify it.
- Nikon: ``manualfocusdrive`` is a RANGE widget of signed integer steps (-32767..32767),
  live view only, and the camera errors at the end stop.
- A body that lacks a widget lacks the feature: the call raises
  ``BackendError("not_supported")`` and everything else keeps working.

Error mapping (an exception with an integer ``code``, libgphoto2's result codes)::

    -6 (not supported)                    -> "not_supported"
    -7 (I/O), -52 (USB device not found),
    -53 (USB claim), -105 (model not found) -> "camera_lost"
    -110 (camera busy)                    -> "busy"
    -10 (timeout)                         -> "timeout"
    anything else                         -> "camera_error"
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from camera_node.backends.base import (
    CAP_CAPTURE,
    CAP_CONFIG,
    CAP_FOCUS_LEVELS,
    CAP_FOCUS_STEPS,
    CAP_LIVEVIEW,
    CAP_ZOOM,
    Backend,
    BackendError,
    CameraInfo,
    CapturedFile,
    ConfigItem,
    Direction,
)
from camera_node.backends.gpcamera import (
    GP_CAPTURE_IMAGE,
    GP_ERROR_CAMERA_BUSY,
    GP_ERROR_IO,
    GP_ERROR_IO_USB_FIND,
    GP_ERROR_MODEL_NOT_FOUND,
    GP_ERROR_NOT_SUPPORTED,
    GP_ERROR_TIMEOUT,
    GP_FILE_TYPE_NORMAL,
    GP_WIDGET_BUTTON,
    GP_WIDGET_DATE,
    GP_WIDGET_MENU,
    GP_WIDGET_RADIO,
    GP_WIDGET_RANGE,
    GP_WIDGET_SECTION,
    GP_WIDGET_TEXT,
    GP_WIDGET_TOGGLE,
    GP_WIDGET_WINDOW,
    WIDGET_TYPE_NAMES,
    GPCamera,
    GPWidget,
)
from camera_node.clock import Clock
from camera_node.jpeg import jpeg_size

log = logging.getLogger(__name__)

T = TypeVar("T")

TOGGLE_GAP_S = 0.1  # "None", then this long, then the target value
GP_ERROR_IO_USB_CLAIM = -53
CAMERA_LOST_CODES = frozenset(
    {GP_ERROR_IO, GP_ERROR_IO_USB_FIND, GP_ERROR_IO_USB_CLAIM, GP_ERROR_MODEL_NOT_FOUND}
)
CANON_LEVEL_VALUES = {
    ("near", 1): "Near 1",
    ("near", 2): "Near 2",
    ("near", 3): "Near 3",
    ("far", 1): "Far 1",
    ("far", 2): "Far 2",
    ("far", 3): "Far 3",
}
CANON_ZOOM_LEVELS = (1, 5, 10)
DEFAULT_SENSOR_SIZE = (6000, 4000)
MIME_BY_EXT = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".cr2": "image/x-canon-cr2",
    ".cr3": "image/x-canon-cr3",
    ".nef": "image/x-nikon-nef",
    ".arw": "image/x-sony-arw",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".png": "image/png",
}
_MAX_CHOICES_SHOWN = 12


def error_code_of(exc: BaseException) -> int | None:
    """The libgphoto2 result code carried by ``exc`` (``.code``), or None."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def map_gp_error(exc: BaseException, what: str) -> BackendError:
    """Turn a libgphoto2 exception into a BackendError with a protocol code."""
    code = error_code_of(exc)
    text = f"{what}: {exc} (gphoto2 error {code})"
    if code == GP_ERROR_NOT_SUPPORTED:
        return BackendError("not_supported", f"{what}: the camera does not support it")
    if code in CAMERA_LOST_CODES:
        return BackendError("camera_lost", text)
    if code == GP_ERROR_CAMERA_BUSY:
        return BackendError("busy", text)
    if code == GP_ERROR_TIMEOUT:
        return BackendError("timeout", text)
    return BackendError("camera_error", text)


def _children(widget: GPWidget) -> Iterator[GPWidget]:
    for i in range(widget.count_children()):
        yield widget.get_child(i)


def _choices(widget: GPWidget) -> tuple[str, ...]:
    return tuple(str(widget.get_choice(i)) for i in range(widget.count_choices()))


class GPhoto2Backend(Backend):
    """A camera behind libgphoto2's Camera API.  Not thread-safe: one worker thread owns it.

    Every method raises :class:`BackendError` (codes as in the module docstring); nothing
    else escapes except programming errors.
    """

    def __init__(
        self,
        camera: GPCamera,
        clock: Clock,
        backend_name: str = "gphoto2",
        sensor_size: tuple[int, int] | None = None,
    ) -> None:
        self.camera = camera
        self.clock = clock
        self.backend_name = backend_name
        self._paths: dict[str, str] = {}  # widget name -> path, from the last tree walk
        self._types: dict[str, int] = {}
        self._caps: set[str] = set()
        self._info: CameraInfo | None = None
        self._liveview = False
        self._zoom = 1
        # When this backend last left manualfocusdrive at "None" (None: not known to be).
        self._none_at: float | None = None
        # eoszoomposition is in sensor (full capture) pixels: known from the caller, else
        # learnt from the first JPEG capture, else a 24 MP 3:2 guess.
        self.sensor_size = sensor_size

    # ------------------------------------------------------------------ helpers

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except BackendError:
            raise
        except Exception as exc:
            if error_code_of(exc) is None:
                raise
            raise map_gp_error(exc, what) from exc

    def _index(self) -> None:
        """Walk the configuration tree once; remember every widget's path and type."""
        root = self._call("get_config", self.camera.get_config)
        paths: dict[str, str] = {}
        types: dict[str, int] = {}

        def walk(w: GPWidget, prefix: str) -> None:
            name = w.get_name()
            path = f"{prefix}/{name}"
            kind = w.get_type()
            if kind in (GP_WIDGET_WINDOW, GP_WIDGET_SECTION):
                for child in _children(w):
                    walk(child, path)
            else:
                paths.setdefault(name, path)
                types.setdefault(name, kind)

        walk(root, "")
        self._paths, self._types = paths, types

    def has(self, name: str) -> bool:
        """Whether the body has a configuration widget of that name (from the last walk)."""
        return name in self._paths

    def _widget(self, name: str) -> GPWidget:
        if name not in self._paths:
            raise BackendError("not_found", f"no configuration widget named {name!r}")
        return self._call(f"get {name}", lambda: self.camera.get_single_config(name))

    def _set(self, name: str, value: Any) -> None:
        def run() -> None:
            w = self.camera.get_single_config(name)
            w.set_value(value)
            self.camera.set_single_config(name, w)

        self._call(f"set {name}={value!r}", run)

    def _text(self, name: str) -> str:
        if name not in self._paths:
            return ""
        try:
            return str(self._widget(name).get_value() or "")
        except BackendError:
            return ""

    def _require(self, cap: str, what: str) -> None:
        if cap not in self._caps:
            raise BackendError("not_supported", f"{what}: this camera does not support it")

    # ------------------------------------------------------------------ Backend

    def open(self) -> CameraInfo:
        self._call("init", self.camera.init)
        self._liveview = False
        self._zoom = 1
        self._none_at = None
        self._index()
        summary = self._call("get_summary", self.camera.get_summary).text
        caps = {CAP_CAPTURE, CAP_CONFIG, CAP_LIVEVIEW}
        mfd = self._types.get("manualfocusdrive")
        if mfd in (GP_WIDGET_RADIO, GP_WIDGET_MENU):
            choices = _choices(self._widget("manualfocusdrive"))
            if "None" in choices and all(v in choices for v in CANON_LEVEL_VALUES.values()):
                caps.add(CAP_FOCUS_LEVELS)
        elif mfd == GP_WIDGET_RANGE:
            caps.add(CAP_FOCUS_STEPS)
        zoom_levels: tuple[int, ...] = (1,)
        if self.has("eoszoom"):
            caps.add(CAP_ZOOM)
            zoom_levels = CANON_ZOOM_LEVELS
        self._caps = caps
        make = self._text("manufacturer") or _summary_field(summary, "Manufacturer")
        model = self._text("cameramodel") or self._text("model") or _summary_field(summary, "Model")
        serial = (
            self._text("eosserialnumber")
            or self._text("serialnumber")
            or _summary_field(summary, "Serial Number")
        )
        self._info = CameraInfo(
            make=make,
            model=model,
            serial=serial,
            capabilities=frozenset(caps),
            zoom_levels=zoom_levels,
            summary=summary,
        )
        return self._info

    @property
    def info(self) -> CameraInfo:
        """The description as of now (capabilities shrink when a feature proves absent)."""
        if self._info is None:
            raise BackendError("not_ready", "the camera is not open")
        return CameraInfo(
            make=self._info.make,
            model=self._info.model,
            serial=self._info.serial,
            capabilities=frozenset(self._caps),
            zoom_levels=self._info.zoom_levels,
            summary=self._info.summary,
        )

    def close(self) -> None:
        self._liveview = False
        self._none_at = None
        try:
            self.camera.exit()
        except Exception as exc:  # closing must never raise
            log.debug("camera exit failed: %s", exc)

    def liveview_start(self) -> None:
        self._require(CAP_LIVEVIEW, "live view")
        if self.has("viewfinder"):
            self._set("viewfinder", 1)
        try:
            self.preview_raw()  # proves live view works; the first frame is discarded
        except BackendError as exc:
            if exc.code == "not_supported":
                self._caps.discard(CAP_LIVEVIEW)
                raise BackendError("not_supported", "live view: this camera does not support it") from exc
            raise
        self._liveview = True
        if CAP_FOCUS_LEVELS in self._caps and self._none_at is None:
            try:  # so that the first drive need not wait for the pause
                self._set("manualfocusdrive", "None")
            except BackendError:
                return
            self._none_at = self.clock.now()

    def liveview_stop(self) -> None:
        self._liveview = False
        if self.has("viewfinder"):
            self._set("viewfinder", 0)

    @property
    def liveview(self) -> bool:
        return self._liveview

    def preview_raw(self) -> bytes:
        """One capture_preview, as the camera's JPEG bytes."""
        f = self._call("capture_preview", self.camera.capture_preview)
        data = self._call("read preview", f.get_data_and_size)
        return data if isinstance(data, bytes) else bytes(data)

    def preview(self) -> tuple[bytes, int, int]:
        if not self._liveview:
            raise BackendError("not_ready", "live view is off")
        data = self.preview_raw()
        size = jpeg_size(data)
        if size is None:
            raise BackendError("camera_error", "live-view frame is not a JPEG")
        return data, size[0], size[1]

    def _check_liveview(self, what: str) -> None:
        if not self._liveview:
            raise BackendError("not_ready", f"{what} works only in live view; start it first")

    def focus_drive(self, direction: Direction, level: int) -> None:
        self.focus_drive_begin(direction, level)
        if self.drive_gap_s > 0:
            self.clock.sleep(self.drive_gap_s)
        self.focus_drive_end(direction, level)

    def _drive_value(self, direction: Direction, level: int) -> str:
        self._require(CAP_FOCUS_LEVELS, "focus drive by levels")
        value = CANON_LEVEL_VALUES.get((direction, level))
        if value is None:
            raise BackendError("bad_args", f"no focus drive {direction} {level}")
        self._check_liveview("manualfocusdrive")
        return value

    def focus_drive_begin(self, direction: Direction, level: int) -> None:
        """Checks, then "None" unless the widget was left there (libgphoto2 only counts a
        changed string as a change; setting "None" sends nothing to the body, so frames may
        be read before the target).  :attr:`drive_gap_s` is then what is left of the pause."""
        self._drive_value(direction, level)
        if self._none_at is None:
            self._set("manualfocusdrive", "None")
            self._none_at = self.clock.now()
        self.drive_gap_s = max(0.0, self._none_at + TOGGLE_GAP_S - self.clock.now())

    def focus_drive_end(self, direction: Direction, level: int) -> None:
        """The target value (the drive), then "None" again for the next drive."""
        value = self._drive_value(direction, level)
        self._none_at = None
        self._set("manualfocusdrive", value)
        try:
            self._set("manualfocusdrive", "None")
        except BackendError:
            return  # the drive went out; the next one sets "None" and waits the full pause
        self._none_at = self.clock.now()

    def focus_steps(self, steps: int) -> None:
        self._require(CAP_FOCUS_STEPS, "focus drive by steps")
        self._check_liveview("manualfocusdrive")
        w = self._widget("manualfocusdrive")
        lo, hi, _inc = (float(x) for x in w.get_range())
        if not lo <= steps <= hi:
            raise BackendError("bad_args", f"steps must lie within [{lo:g}, {hi:g}]")
        self._set("manualfocusdrive", float(steps))

    def zoom_set(self, zoom: int, center: tuple[float, float] | None) -> None:
        self._require(CAP_ZOOM, "live-view zoom")
        if zoom not in CANON_ZOOM_LEVELS:
            raise BackendError("bad_args", f"zoom must be one of {CANON_ZOOM_LEVELS}")
        self._set("eoszoom", str(zoom))
        self._zoom = zoom
        if zoom > 1 and self.has("eoszoomposition"):
            self._set("eoszoomposition", self.zoom_position(zoom, center or (0.5, 0.5)))

    def zoom_position(self, zoom: int, center: tuple[float, float]) -> str:
        """``eoszoomposition`` for a centre given as fractions: "x,y", the top-left corner of
        the magnified area in sensor pixels, kept inside the sensor."""
        fw, fh = self.sensor_size or DEFAULT_SENSOR_SIZE
        w, h = fw / zoom, fh / zoom
        x = min(max(center[0] * fw - w / 2, 0.0), fw - w)
        y = min(max(center[1] * fh - h / 2, 0.0), fh - h)
        return f"{round(x)},{round(y)}"

    def capture(self) -> CapturedFile:
        self._require(CAP_CAPTURE, "capture")
        path = self._call("capture", lambda: self.camera.capture(GP_CAPTURE_IMAGE))
        folder, name = path.folder, path.name
        f = self._call(f"download {name}", lambda: self.camera.file_get(folder, name, GP_FILE_TYPE_NORMAL))
        raw = self._call(f"read {name}", f.get_data_and_size)
        data = raw if isinstance(raw, bytes) else bytes(raw)
        try:  # best effort: the card keeps a copy when the body refuses
            self.camera.file_delete(folder, name)
        except Exception as exc:
            log.debug("could not delete %s/%s on the camera: %s", folder, name, exc)
        if self.sensor_size is None:
            self.sensor_size = jpeg_size(data)
        ext = os.path.splitext(name)[1].lower()
        return CapturedFile(name=name, data=data, mime=MIME_BY_EXT.get(ext, "application/octet-stream"))

    # ------------------------------------------------------------------ configuration

    def _item(self, name: str, w: GPWidget) -> ConfigItem:
        kind = w.get_type()
        choices: tuple[str, ...] = ()
        rng: tuple[float, float, float] | None = None
        if kind in (GP_WIDGET_RADIO, GP_WIDGET_MENU):
            choices = _choices(w)
        elif kind == GP_WIDGET_RANGE:
            lo, hi, inc = (float(x) for x in w.get_range())
            rng = (lo, hi, inc)
        value: Any = None if kind == GP_WIDGET_BUTTON else w.get_value()
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return ConfigItem(
            name=name,
            label=str(w.get_label()),
            type=WIDGET_TYPE_NAMES.get(kind, str(kind)),
            value=value,
            readonly=bool(w.get_readonly()),
            choices=choices,
            range=rng,
            path=self._paths.get(name, ""),
        )

    def config_list(self) -> list[ConfigItem]:
        self._index()
        return [self._item(name, self._widget(name)) for name in self._paths]

    def config_get(self, name: str) -> ConfigItem:
        if name not in self._paths:
            self._index()  # widgets can appear (e.g. after live view starts)
        return self._item(name, self._widget(name))

    def config_set(self, name: str, value: Any) -> ConfigItem:
        if name not in self._paths:
            self._index()
        w = self._widget(name)
        new = self._coerce(name, w, value)
        if name == "manualfocusdrive":
            self._none_at = None  # it may no longer hold "None"
        self._set(name, new)
        return self._item(name, self._widget(name))

    def _coerce(self, name: str, w: GPWidget, value: Any) -> Any:
        """The value to hand libgphoto2, checked against the widget's type and choices.

        Raises BackendError("bad_args") naming what would be accepted.
        """
        kind = w.get_type()
        if w.get_readonly():
            raise BackendError("bad_args", f"{name!r} is read-only")
        is_num = isinstance(value, int | float) and not isinstance(value, bool)
        if kind in (GP_WIDGET_RADIO, GP_WIDGET_MENU):
            choices = _choices(w)
            text = str(value) if is_num else value
            if not isinstance(text, str) or text not in choices:
                shown = ", ".join(repr(c) for c in choices[:_MAX_CHOICES_SHOWN])
                more = (
                    f" (and {len(choices) - _MAX_CHOICES_SHOWN} more)"
                    if len(choices) > _MAX_CHOICES_SHOWN
                    else ""
                )
                raise BackendError("bad_args", f"{name!r} must be one of {shown}{more}")
            return text
        if kind == GP_WIDGET_TEXT:
            if is_num:
                return str(value)
            if not isinstance(value, str):
                raise BackendError("bad_args", f"{name!r} takes a string")
            return value
        if kind == GP_WIDGET_RANGE:
            if not is_num:
                raise BackendError("bad_args", f"{name!r} takes a number")
            lo, hi, _inc = (float(x) for x in w.get_range())
            if not lo <= float(value) <= hi:
                raise BackendError("bad_args", f"{name!r} must lie within [{lo:g}, {hi:g}]")
            return float(value)
        if kind == GP_WIDGET_TOGGLE:
            if isinstance(value, bool) or value in (0, 1):
                return int(value)
            raise BackendError("bad_args", f"{name!r} takes true or false")
        if kind == GP_WIDGET_DATE:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise BackendError("bad_args", f"{name!r} takes an integer (seconds since the epoch)")
        raise BackendError("bad_args", f"{name!r} is a {WIDGET_TYPE_NAMES.get(kind, kind)} and cannot be set")


def _summary_field(summary: str, key: str) -> str:
    for line in summary.splitlines():
        k, sep, v = line.strip().partition(":")
        if sep and k.strip() == key:
            return v.strip()
    return ""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_gphoto2(port: str | None, clock: Clock) -> GPhoto2Backend:
    """A backend over real hardware: the camera on ``port`` (e.g. ``usb:001,005``), or the
    first one autodetected.  gphoto2 is imported here, so VCAMERADIR and friends must be set
    before the first call.  Raises BackendError: not_found (no camera / no such port),
    camera_lost, camera_error.  The camera is not opened yet: call ``open()``.
    """
    import gphoto2 as gp  # lazy: the import reads VCAMERADIR, CAMLIBS, IOLIBS

    try:
        found = gp.Camera.autodetect()
        cameras = [(found.get_name(i), found.get_value(i)) for i in range(found.count())]
    except gp.GPhoto2Error as exc:
        raise map_gp_error(exc, "autodetect") from exc
    camera = gp.Camera()
    if port is None:
        if not cameras:
            raise BackendError("not_found", "no camera found (is it on, and in PTP mode?)")
        return GPhoto2Backend(camera, clock)
    try:
        ports = gp.PortInfoList()
        ports.load()
        idx = ports.lookup_path(port)
        camera.set_port_info(ports[idx])
        models = [name for name, p in cameras if p == port]
        if models:
            abilities = gp.CameraAbilitiesList()
            abilities.load()
            camera.set_abilities(abilities[abilities.lookup_model(models[0])])
    except gp.GPhoto2Error as exc:
        known = ", ".join(p for _, p in cameras) or "none"
        raise BackendError("not_found", f"no camera on port {port!r} (cameras on: {known})") from exc
    return GPhoto2Backend(camera, clock)
