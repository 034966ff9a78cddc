"""SimGPCamera: the simulated body seen through python-gphoto2's ``Camera`` API.

It satisfies :class:`camera_node.backends.gpcamera.GPCamera`, so the node's gphoto2
backend drives it and a real body with the same code.  It presents a Canon-EOS-like tree::

    /main/actions          manualfocusdrive, viewfinder, eoszoom, eoszoomposition
    /main/settings         capturetarget
    /main/status           serialnumber, manufacturer, cameramodel, lensname, batterylevel,
                           availableshots
    /main/imgsettings      iso
    /main/capturesettings  f-number, shutterspeed

Behaviour copied from Canon bodies and libgphoto2:

- ``manualfocusdrive`` (RADIO Near 1..3, None, Far 1..3): a widget counts as changed only
  when its value string changes, and only changed widgets are applied, so setting the value
  it already holds does nothing unless "None" is set in between.  Outside live view the body
  refuses the drive and libgphoto2 reports ``GP_ERROR`` (-1), as its EOS DriveLens put
  function does for any failure.
- Nikon mode: ``manualfocusdrive`` is a RANGE of signed level-1 steps (negative: near) and
  fails with ``GP_ERROR_CAMERA_ERROR`` ("at limit") at an end stop.
- ``viewfinder`` 1 starts live view (the mirror takes ``mirror_up_s``); ``capture_preview``
  starts it too, as libgphoto2 does on Canon.  Stopping live view resets the zoom to 1.
- ``eoszoom`` ("1", "5", "10") works only in live view; ``eoszoomposition`` is "x,y", the
  top-left corner of the magnified area in sensor (capture) pixels, clamped inside.
- Every call fails with ``GP_ERROR_IO`` while the USB cable is "pulled", and calls that
  talk to the body fail with ``GP_ERROR_CAMERA_BUSY`` while it is busy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from camera_node.backends.gpcamera import (
    GP_CAPTURE_IMAGE,
    GP_ERROR,
    GP_ERROR_BAD_PARAMETERS,
    GP_ERROR_MODEL_NOT_FOUND,
    GP_ERROR_NOT_SUPPORTED,
    GP_FILE_TYPE_NORMAL,
    GP_WIDGET_RADIO,
    GP_WIDGET_RANGE,
    GP_WIDGET_SECTION,
    GP_WIDGET_TEXT,
    GP_WIDGET_TOGGLE,
    GP_WIDGET_WINDOW,
    GPError,
)
from camera_node.sim.camera import ZOOM_LEVELS, SimCamera
from camera_node.sim.widgets import SimWidget

MFD_CHOICES = ("Near 1", "Near 2", "Near 3", "None", "Far 1", "Far 2", "Far 3")
F_NUMBERS = (
    "2.8",
    "3.2",
    "3.5",
    "4",
    "4.5",
    "5",
    "5.6",
    "6.3",
    "7.1",
    "8",
    "9",
    "10",
    "11",
    "13",
    "14",
    "16",
    "18",
    "20",
    "22",
)
SHUTTER = (
    "1/4000",
    "1/2000",
    "1/1000",
    "1/500",
    "1/250",
    "1/125",
    "1/60",
    "1/30",
    "1/15",
    "1/8",
    "1/4",
    "0.5",
    "1",
    "2",
    "4",
    "bulb",
)
ISO = ("Auto", "100", "200", "400", "800", "1600", "3200", "6400")
TARGETS = ("Internal RAM", "Memory card")


@dataclass(slots=True)
class SimText:
    text: str


@dataclass(slots=True)
class SimFilePath:
    folder: str
    name: str


class SimFile:
    """Like ``gphoto2.CameraFile``: the bytes of one file."""

    def __init__(self, data: bytes, name: str = "capture_preview.jpg", mime: str = "image/jpeg") -> None:
        self._data = data
        self._name = name
        self._mime = mime

    def get_data_and_size(self) -> memoryview:
        return memoryview(self._data)

    def get_mime_type(self) -> str:
        return self._mime

    def get_name(self) -> str:
        return self._name


class SimGPCamera:
    """python-gphoto2's ``Camera``, as far as tetherfocus uses it, over a :class:`SimCamera`."""

    def __init__(self, sim: SimCamera) -> None:
        self._sim = sim
        nikon = sim.nikon
        self._make = "Nikon Corporation" if nikon else "Canon Inc."
        self._model = "Nikon D7500 (simulated)" if nikon else "Canon EOS 80D (simulated)"
        self._serial = f"SIM{sim.seed & 0xFFFFFF:06d}{sim.spec.name[:8]}"
        self._settings: dict[str, Any] = {
            "manualfocusdrive": 0.0 if nikon else "None",
            "capturetarget": TARGETS[0],
            "iso": "100",
            "shutterspeed": "1/125",
            "f-number": _fmt_f(sim.f_number),
        }

    # ---- session ----------------------------------------------------------------------------
    def init(self) -> None:
        with self._sim.lock:
            if self._sim.faults.unplugged:
                raise GPError(GP_ERROR_MODEL_NOT_FOUND, "Could not detect any camera")

    def exit(self) -> None:
        with self._sim.lock:
            if not self._sim.faults.unplugged:
                self._set_liveview(False)

    def get_summary(self) -> SimText:
        with self._sim.lock:
            self._sim.check(talks=False)
            return SimText(
                f"Manufacturer: {self._make}\nModel: {self._model}\n  Version: 1.0.0-sim\n"
                f"  Serial Number: {self._serial}\nScene: {self._sim.spec.name}\n"
            )

    # ---- configuration ----------------------------------------------------------------------
    def get_config(self) -> SimWidget:
        with self._sim.lock:
            self._sim.check(talks=False)
            return self._tree()

    def get_single_config(self, name: str) -> SimWidget:
        with self._sim.lock:
            self._sim.check(talks=False)
            found = self._tree().find(name)
            if found is None or found.get_type() in (GP_WIDGET_WINDOW, GP_WIDGET_SECTION):
                raise GPError(GP_ERROR_BAD_PARAMETERS, f"{name} not found in configuration tree")
            return found

    def set_single_config(self, name: str, widget: Any) -> None:
        with self._sim.lock:
            self._sim.check()
            changed = widget.changed() if hasattr(widget, "changed") else True
            if not changed:
                return  # libgphoto2 applies only changed widgets
            self._apply(name, widget.get_value())

    def set_config(self, window: SimWidget) -> None:
        """Apply every changed widget of a tree from :meth:`get_config`."""
        with self._sim.lock:
            self._sim.check()
            for w in window.walk():
                if w.get_type() not in (GP_WIDGET_WINDOW, GP_WIDGET_SECTION) and w.changed():
                    self._apply(w.get_name(), w.get_value())

    def _apply(self, name: str, value: Any) -> None:
        sim = self._sim
        if name == "manualfocusdrive":
            self._settings[name] = value
            if sim.nikon:
                sim.body_steps(int(value))
            elif value not in MFD_CHOICES:
                raise GPError(GP_ERROR, f"Could not parse {value!r}")
            elif value != "None":
                direction, level = value.split()
                sim.body_drive("near" if direction == "Near" else "far", int(level))
        elif name == "viewfinder":
            self._set_liveview(bool(int(value)))
        elif name == "eoszoom":
            if str(value) not in {str(z) for z in ZOOM_LEVELS}:
                raise GPError(GP_ERROR_BAD_PARAMETERS, f"eoszoom must be 1, 5 or 10, not {value!r}")
            if not sim.live_running():
                raise GPError(GP_ERROR, "eoszoom needs live view")
            sim.zoom = int(value)
            if sim.zoom > 1:  # the position persists across 1x, as on the body
                sim.zoom_xy = sim.clamp_zoom_xy(sim.zoom, *sim.zoom_xy)
        elif name == "eoszoomposition":
            try:
                x, y = (int(v) for v in str(value).split(","))
            except ValueError:
                raise GPError(
                    GP_ERROR_BAD_PARAMETERS, f"eoszoomposition must be 'x,y', not {value!r}"
                ) from None
            if not sim.live_running():
                raise GPError(GP_ERROR, "eoszoomposition needs live view")
            sim.zoom_xy = sim.clamp_zoom_xy(max(sim.zoom, ZOOM_LEVELS[1]), x, y)
        elif name in ("capturetarget", "iso", "shutterspeed", "f-number"):
            choices = {"capturetarget": TARGETS, "iso": ISO, "shutterspeed": SHUTTER, "f-number": F_NUMBERS}[
                name
            ]
            if value not in choices:
                raise GPError(GP_ERROR_BAD_PARAMETERS, f"{name}: {value!r} is not one of the choices")
            self._settings[name] = value
            if name == "f-number":
                sim.f_number = float(value)
        elif self._tree().find(name) is not None:
            raise GPError(GP_ERROR_NOT_SUPPORTED, f"{name} is read-only")
        else:
            raise GPError(GP_ERROR_BAD_PARAMETERS, f"{name} not found in configuration tree")

    def _set_liveview(self, on: bool) -> None:
        self._sim.body_set_liveview(on)
        if not on:
            self._sim.zoom = 1

    def _tree(self) -> SimWidget:
        sim, s = self._sim, self._settings
        root = SimWidget("main", "Camera and Driver Configuration", GP_WIDGET_WINDOW)
        actions = root.add(SimWidget("actions", "Camera Actions", GP_WIDGET_SECTION))
        if sim.nikon:
            actions.add(
                SimWidget(
                    "manualfocusdrive",
                    "Manual Focus Drive",
                    GP_WIDGET_RANGE,
                    0.0,
                    rng=(-32767.0, 32767.0, 1.0),
                )
            )
        else:
            actions.add(
                SimWidget(
                    "manualfocusdrive",
                    "Drive Canon DSLR Manual focus",
                    GP_WIDGET_RADIO,
                    s["manualfocusdrive"],
                    choices=MFD_CHOICES,
                )
            )
        actions.add(SimWidget("viewfinder", "Canon EOS Viewfinder", GP_WIDGET_TOGGLE, int(sim.liveview)))
        actions.add(
            SimWidget(
                "eoszoom",
                "Canon EOS Zoom",
                GP_WIDGET_RADIO,
                str(sim.zoom),
                choices=tuple(str(z) for z in ZOOM_LEVELS),
            )
        )
        actions.add(
            SimWidget(
                "eoszoomposition",
                "Canon EOS Zoom Position",
                GP_WIDGET_TEXT,
                f"{sim.zoom_xy[0]},{sim.zoom_xy[1]}",
            )
        )
        settings = root.add(SimWidget("settings", "Camera Settings", GP_WIDGET_SECTION))
        settings.add(
            SimWidget("capturetarget", "Capture Target", GP_WIDGET_RADIO, s["capturetarget"], choices=TARGETS)
        )
        status = root.add(SimWidget("status", "Camera Status Information", GP_WIDGET_SECTION))
        for name, label, value in (
            ("serialnumber", "Serial Number", self._serial),
            ("manufacturer", "Camera Manufacturer", self._make),
            ("cameramodel", "Camera Model", self._model),
            ("lensname", "Lens Name", "EF-S18-135mm f/3.5-5.6 IS USM (simulated)"),
            ("batterylevel", "Battery Level", "100%"),
            ("availableshots", "Available Shots", "9999"),
        ):
            status.add(SimWidget(name, label, GP_WIDGET_TEXT, value, readonly=True))
        img = root.add(SimWidget("imgsettings", "Image Settings", GP_WIDGET_SECTION))
        img.add(SimWidget("iso", "ISO Speed", GP_WIDGET_RADIO, s["iso"], choices=ISO))
        cap = root.add(SimWidget("capturesettings", "Capture Settings", GP_WIDGET_SECTION))
        cap.add(SimWidget("f-number", "Aperture", GP_WIDGET_RADIO, s["f-number"], choices=F_NUMBERS))
        cap.add(
            SimWidget("shutterspeed", "Shutter Speed", GP_WIDGET_RADIO, s["shutterspeed"], choices=SHUTTER)
        )
        return root

    # ---- images -----------------------------------------------------------------------------
    def capture_preview(self) -> SimFile:
        with self._sim.lock:
            return SimFile(self._sim.body_preview().jpeg)

    def capture(self, capture_type: int) -> SimFilePath:
        with self._sim.lock:
            self._sim.check()
            if capture_type != GP_CAPTURE_IMAGE:
                raise GPError(GP_ERROR_NOT_SUPPORTED, "only GP_CAPTURE_IMAGE is simulated")
            folder, name = self._sim.body_capture()
            return SimFilePath(folder, name)

    def file_get(self, folder: str, name: str, file_type: int) -> SimFile:
        with self._sim.lock:
            self._sim.check()
            if file_type != GP_FILE_TYPE_NORMAL:
                raise GPError(GP_ERROR_NOT_SUPPORTED, "only GP_FILE_TYPE_NORMAL is simulated")
            return SimFile(self._sim.body_file_get(folder, name), name)

    def file_delete(self, folder: str, name: str) -> None:
        with self._sim.lock:
            self._sim.body_file_delete(folder, name)


def _fmt_f(n: float) -> str:
    return f"{n:g}"
