"""A small fake GPCamera over a recorded configuration tree (camera_node/recordings/*.json).

It behaves like libgphoto2 where the node depends on it, and records every call:

- ``set_single_config`` applies a widget only when its value changed since it was read,
  which is why a Canon ``manualfocusdrive`` repeated without "None" in between does nothing
  (a Nikon RANGE ``manualfocusdrive`` has no read-back and always reads 0, as in config.c);
- ``manualfocusdrive`` works only in live view (``viewfinder`` = 1, or after a
  ``capture_preview``); a RANGE (Nikon) drive fails with -113 past an end stop;
- a widget name the tree lacks raises -2 (bad parameters), as libgphoto2 does;
- ``fail_next`` makes the next call raise a given libgphoto2 code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from camera_node.backends.gpcamera import (
    GP_ERROR,
    GP_ERROR_BAD_PARAMETERS,
    GP_ERROR_CAMERA_ERROR,
    GP_WIDGET_DATE,
    GP_WIDGET_MENU,
    GP_WIDGET_RADIO,
    GP_WIDGET_RANGE,
    GP_WIDGET_SECTION,
    GP_WIDGET_TEXT,
    GP_WIDGET_TOGGLE,
    GP_WIDGET_WINDOW,
    GPError,
)
from camera_node.clock import Clock

RECORDINGS = Path(__file__).resolve().parents[2] / "camera_node" / "recordings"
TYPES = {
    "text": GP_WIDGET_TEXT,
    "range": GP_WIDGET_RANGE,
    "toggle": GP_WIDGET_TOGGLE,
    "radio": GP_WIDGET_RADIO,
    "menu": GP_WIDGET_MENU,
    "date": GP_WIDGET_DATE,
}


def tiny_jpeg(w: int = 96, h: int = 64, shade: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (shade, 90, 40)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


class Widget:
    def __init__(self, name: str, label: str, kind: int, value: Any = None, **kw: Any) -> None:
        self.name, self.label, self.kind, self.value = name, label, kind, value
        self.choices: list[str] = list(kw.get("choices", []))
        lo, hi, inc = kw.get("range", (0.0, 0.0, 0.0))
        self.range: tuple[float, float, float] = (float(lo), float(hi), float(inc))
        self.readonly = int(bool(kw.get("readonly", False)))
        self.children: list[Widget] = []
        self.changed = False

    def copy(self) -> Widget:
        w = Widget(self.name, self.label, self.kind, self.value, choices=self.choices, range=self.range)
        w.readonly = self.readonly
        return w

    def get_name(self) -> str:
        return self.name

    def get_label(self) -> str:
        return self.label

    def get_type(self) -> int:
        return self.kind

    def get_readonly(self) -> int:
        return self.readonly

    def get_value(self) -> Any:
        return self.value

    def set_value(self, value: Any) -> None:
        if self.kind == GP_WIDGET_RANGE and not isinstance(value, float):
            raise TypeError("a range widget takes a float")
        self.changed = self.changed or value != self.value
        self.value = value

    def count_choices(self) -> int:
        return len(self.choices)

    def get_choice(self, index: int) -> str:
        return self.choices[index]

    def get_range(self) -> tuple[float, float, float]:
        return self.range

    def count_children(self) -> int:
        return len(self.children)

    def get_child(self, index: int) -> Widget:
        return self.children[index]


@dataclass
class Text:
    text: str


@dataclass
class FilePath:
    folder: str
    name: str


class File:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def get_data_and_size(self) -> memoryview:
        return memoryview(self.data)


class RecordedCamera:
    """GPCamera over a recording; ``calls`` logs ("set", name, value, t) and the rest."""

    def __init__(self, recording: str, clock: Clock, *, travel: float = 5000.0) -> None:
        raw = json.loads((RECORDINGS / recording).read_text())
        self.clock = clock
        self.summary = raw["summary"]
        self.root = Widget("main", "Camera and Driver Configuration", GP_WIDGET_WINDOW)
        self.widgets: dict[str, Widget] = {}
        sections: dict[str, Widget] = {}
        for item in raw["widgets"]:
            _, _main, section, name = item["path"].split("/")
            sec = sections.get(section)
            if sec is None:
                sec = sections[section] = Widget(section, section, GP_WIDGET_SECTION)
                self.root.children.append(sec)
            extra = {k: item[k] for k in ("choices", "range", "readonly") if k in item}
            w = Widget(name, item["label"], TYPES[item["type"]], item.get("value"), **extra)
            sec.children.append(w)
            self.widgets[name] = w
        self.calls: list[tuple[Any, ...]] = []
        self.applied: list[tuple[str, Any]] = []  # changes the body acted on
        self.liveview = False
        self.position = travel / 2  # Nikon steps, for the end-stop behaviour
        self.travel = travel
        self.fail_next: int | None = None
        self.frame = tiny_jpeg()
        self.capture_data = tiny_jpeg(300, 200, 200)
        self.deleted: list[str] = []

    def remove(self, name: str) -> None:
        """Take a widget out of the tree, as on a body that lacks it."""
        w = self.widgets.pop(name)
        for section in self.root.children:
            if w in section.children:
                section.children.remove(w)

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            code, self.fail_next = self.fail_next, None
            raise GPError(code, f"injected gphoto2 error {code}")

    def init(self) -> None:
        self.calls.append(("init",))
        self._maybe_fail()

    def exit(self) -> None:
        self.calls.append(("exit",))
        self.liveview = False

    def get_summary(self) -> Text:
        self._maybe_fail()
        return Text(self.summary)

    def get_config(self) -> Widget:
        self._maybe_fail()
        return self.root

    def get_single_config(self, name: str) -> Widget:
        self._maybe_fail()
        w = self.widgets.get(name)
        if w is None:
            raise GPError(GP_ERROR_BAD_PARAMETERS, f"{name} not found in configuration tree")
        return w.copy()

    def set_single_config(self, name: str, widget: Widget) -> None:
        self.calls.append(("set", name, widget.value, self.clock.now()))
        self._maybe_fail()
        current = self.widgets[name]
        if not widget.changed or widget.value == current.value:
            return  # libgphoto2 sends only what changed
        if name == "manualfocusdrive":
            self._drive(widget.value)
            if current.kind == GP_WIDGET_RANGE:  # Nikon: no read-back, the widget reads 0 again
                self.applied.append((name, widget.value))
                return
        if name == "viewfinder":
            self.liveview = widget.value == 1
        current.value = widget.value
        self.applied.append((name, widget.value))

    def _drive(self, value: Any) -> None:
        if not self.liveview:
            raise GPError(GP_ERROR, "manual focus drive needs live view")
        if isinstance(value, float):  # Nikon: signed steps, an error past the end stop
            new = self.position + value
            if not 0.0 <= new <= self.travel:
                self.position = min(max(new, 0.0), self.travel)
                raise GPError(GP_ERROR_CAMERA_ERROR, "Nikon manual focus at limit")
            self.position = new

    def capture_preview(self) -> File:
        self.calls.append(("capture_preview",))
        self._maybe_fail()
        self.liveview = True
        return File(self.frame)

    def capture(self, capture_type: int) -> FilePath:
        self.calls.append(("capture", capture_type))
        self._maybe_fail()
        return FilePath("/store_00020001/DCIM/100CANON", "IMG_0042.JPG")

    def file_get(self, folder: str, name: str, file_type: int) -> File:
        self.calls.append(("file_get", folder, name, file_type))
        self._maybe_fail()
        return File(self.capture_data)

    def file_delete(self, folder: str, name: str) -> None:
        self.deleted.append(f"{folder}/{name}")
