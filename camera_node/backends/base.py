"""The one interface every camera backend implements.

Exception hierarchy (errors are part of the interface)::

    BackendError(code, message)        code is a protocol error code (protocol.ErrorCode)
     ├── code "not_supported"          the body lacks the feature; the node goes on
     ├── code "not_ready"              e.g. a focus drive outside live view
     ├── code "busy"                   the camera said it is busy; retry later
     ├── code "camera_error"           the camera refused or failed the operation
     └── code "camera_lost"            USB gone (I/O errors); the node will reconnect

A backend is *not* thread-safe.  The node owns it from exactly one worker thread, which
serialises every camera call (libgphoto2 allows one connection per USB device, and public
reports show threads sharing a handle ending in PTP errors and segfaults).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["near", "far"]

# Capabilities a backend may advertise in CameraInfo.capabilities.
CAP_LIVEVIEW = "liveview"
CAP_FOCUS_LEVELS = "focus.levels"  # Canon: Near/Far 1..3, no read-back
CAP_FOCUS_STEPS = "focus.steps"  # Nikon: signed integer steps, errors at the limit
CAP_ZOOM = "zoom"  # live-view magnification (eoszoom)
CAP_CAPTURE = "capture"
CAP_CONFIG = "config"


class BackendError(Exception):
    """A camera operation failed; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class CameraInfo:
    make: str
    model: str
    serial: str
    capabilities: frozenset[str]
    zoom_levels: tuple[int, ...] = (1,)
    summary: str = ""


@dataclass(frozen=True, slots=True)
class CapturedFile:
    name: str  # file name as the camera reports it, e.g. "IMG_0001.JPG"
    data: bytes
    mime: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class ConfigItem:
    name: str
    label: str
    type: str  # text | range | toggle | radio | menu | button | date
    value: Any
    readonly: bool = False
    choices: tuple[str, ...] = ()
    range: tuple[float, float, float] | None = None  # (min, max, step) for "range"
    path: str = ""  # e.g. "/main/actions/manualfocusdrive"
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(abc.ABC):
    """A camera, as the node sees it.  Every method may raise :class:`BackendError`."""

    @abc.abstractmethod
    def open(self) -> CameraInfo:
        """Connect to the camera and describe it."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the camera; never raises."""

    @abc.abstractmethod
    def liveview_start(self) -> None:
        """Start live view (raises the mirror on a DSLR: about 1.2 s)."""

    @abc.abstractmethod
    def liveview_stop(self) -> None: ...

    @abc.abstractmethod
    def preview(self) -> tuple[bytes, int, int]:
        """Block until the next live-view frame; return (jpeg bytes untouched, width, height)."""

    @abc.abstractmethod
    def focus_drive(self, direction: Direction, level: int) -> None:
        """One Canon-style relative drive (level 1..3).  Returns at once; no completion signal."""

    #: The pause :meth:`focus_drive` makes between its two halves, as set by the last
    #: :meth:`focus_drive_begin`; 0 when it makes none.
    drive_gap_s: float = 0.0

    def focus_drive_begin(self, direction: Direction, level: int) -> None:
        """The first half of :meth:`focus_drive`: its checks and whatever must precede the
        pause.  A caller that does not want to hold the camera through the pause calls
        this, waits :attr:`drive_gap_s` (free to take live-view frames meanwhile), then
        :meth:`focus_drive_end`.  By default there are no checks of its own: the second
        half (:meth:`focus_drive`) makes them."""
        del direction, level

    def focus_drive_end(self, direction: Direction, level: int) -> None:
        """The second half of :meth:`focus_drive`: the drive itself."""
        self.focus_drive(direction, level)

    @abc.abstractmethod
    def focus_steps(self, steps: int) -> None:
        """One Nikon-style signed integer drive (negative is near)."""

    @abc.abstractmethod
    def zoom_set(self, zoom: int, center: tuple[float, float] | None) -> None:
        """Live-view magnification (1, 5, 10); centre as fractions of the full view."""

    @abc.abstractmethod
    def capture(self) -> CapturedFile:
        """Take a full-resolution shot and download it whole."""

    @abc.abstractmethod
    def config_list(self) -> list[ConfigItem]: ...

    @abc.abstractmethod
    def config_get(self, name: str) -> ConfigItem: ...

    @abc.abstractmethod
    def config_set(self, name: str, value: Any) -> ConfigItem:
        """Set a widget by name; returns the widget as it reads afterwards."""
