"""Faults a test or benchmark can inject into the simulated camera.

- USB disconnect: every facade call fails with ``GP_ERROR_IO`` until :meth:`Faults.replug`;
  the body then comes back with live view off, as a real camera does after re-enumeration.
- Frozen frames: the stream keeps returning the last JPEG.
- Dropped frames: each frame is lost with a probability (the call waits for the next one).
- Slow frames: every frame takes ``extra_s`` longer.
- Busy: calls that talk to the body fail with ``GP_ERROR_CAMERA_BUSY``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Faults:
    unplugged: bool = False
    frozen: bool = False
    drop_probability: float = 0.0
    slow_extra_s: float = 0.0
    busy: bool = False
    disconnects: int = 0

    def usb_disconnect(self) -> None:
        self.unplugged = True
        self.disconnects += 1

    def replug(self) -> None:
        self.unplugged = False

    def freeze_frames(self, on: bool = True) -> None:
        self.frozen = on

    def drop_frames(self, probability: float) -> None:
        if not 0.0 <= probability < 1.0:
            raise ValueError("drop probability must lie in [0, 1)")
        self.drop_probability = probability

    def slow_frames(self, extra_s: float) -> None:
        if extra_s < 0:
            raise ValueError("extra_s must be >= 0")
        self.slow_extra_s = extra_s

    def set_busy(self, on: bool = True) -> None:
        self.busy = on

    def clear(self) -> None:
        self.unplugged = self.frozen = self.busy = False
        self.drop_probability = self.slow_extra_s = 0.0
