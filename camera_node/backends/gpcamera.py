"""The subset of python-gphoto2's ``gphoto2.Camera`` API that tetherfocus uses.

The real ``gphoto2.Camera`` satisfies :class:`GPCamera` as it is.  The simulated camera
(:mod:`camera_node.sim`) provides a facade with the same shape, so the node's camera code
(the Canon ``manualfocusdrive`` None toggle, ``eoszoom``, Nikon integer steps, capture and
download) is one piece of code for simulation and hardware.

Errors: every method may raise an exception with an integer ``code`` attribute holding a
libgphoto2 error code (``gphoto2.GPhoto2Error`` on hardware, :class:`GPError` in the
simulator).  The codes used are listed below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

# libgphoto2 constants (gphoto2/gphoto2-widget.h, gphoto2-file.h, gphoto2-result.h).
GP_CAPTURE_IMAGE = 0
GP_FILE_TYPE_PREVIEW = 0
GP_FILE_TYPE_NORMAL = 1

GP_WIDGET_WINDOW = 0
GP_WIDGET_SECTION = 1
GP_WIDGET_TEXT = 2
GP_WIDGET_RANGE = 3
GP_WIDGET_TOGGLE = 4
GP_WIDGET_RADIO = 5
GP_WIDGET_MENU = 6
GP_WIDGET_BUTTON = 7
GP_WIDGET_DATE = 8

WIDGET_TYPE_NAMES = {
    GP_WIDGET_WINDOW: "window",
    GP_WIDGET_SECTION: "section",
    GP_WIDGET_TEXT: "text",
    GP_WIDGET_RANGE: "range",
    GP_WIDGET_TOGGLE: "toggle",
    GP_WIDGET_RADIO: "radio",
    GP_WIDGET_MENU: "menu",
    GP_WIDGET_BUTTON: "button",
    GP_WIDGET_DATE: "date",
}

GP_OK = 0
GP_ERROR = -1
GP_ERROR_BAD_PARAMETERS = -2
GP_ERROR_NOT_SUPPORTED = -6
GP_ERROR_IO = -7
GP_ERROR_TIMEOUT = -10
GP_ERROR_IO_USB_FIND = -52
GP_ERROR_CORRUPTED_DATA = -102
GP_ERROR_DIRECTORY_NOT_FOUND = -107
GP_ERROR_FILE_NOT_FOUND = -108
GP_ERROR_MODEL_NOT_FOUND = -105
GP_ERROR_CAMERA_BUSY = -110
GP_ERROR_CAMERA_ERROR = -113


class GPError(Exception):
    """A libgphoto2-style error raised by the simulated camera's facade."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message or f"gphoto2 error {code}")
        self.code = code


class GPWidget(Protocol):
    def get_name(self) -> str: ...
    def get_label(self) -> str: ...
    def get_type(self) -> int: ...
    def get_readonly(self) -> int: ...
    def get_value(self) -> Any: ...
    def set_value(self, value: Any) -> None: ...
    def count_choices(self) -> int: ...
    def get_choice(self, index: int) -> str: ...
    def get_range(self) -> Sequence[float]: ...
    def count_children(self) -> int: ...
    def get_child(self, index: int) -> GPWidget: ...


class GPFile(Protocol):
    def get_data_and_size(self) -> Any:
        """A bytes-like object (memoryview on hardware)."""
        ...


class GPFilePath(Protocol):
    folder: str
    name: str


class GPText(Protocol):
    text: str


class GPCamera(Protocol):
    def init(self) -> None: ...
    def exit(self) -> None: ...
    def get_summary(self) -> GPText: ...
    def get_config(self) -> GPWidget: ...
    def get_single_config(self, name: str) -> GPWidget: ...
    def set_single_config(self, name: str, widget: GPWidget) -> None: ...
    def capture_preview(self) -> GPFile: ...
    def capture(self, capture_type: int) -> GPFilePath: ...
    def file_get(self, folder: str, name: str, file_type: int) -> GPFile: ...
    def file_delete(self, folder: str, name: str) -> None: ...
