"""The simulated camera body: scene, optics, motor, renderer, stream, faults and clock.

:class:`SimCamera` is what tests and benchmarks hold.  Clients of a real camera reach it
only through :class:`camera_node.sim.facade.SimGPCamera`, which exposes what libgphoto2
would; the truth (where focus really is) is on this object and in :mod:`.truth`.

Body methods (``body_*``) raise :class:`GPError` with libgphoto2 codes, as the facade
passes them on.  All waiting goes through the injected clock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from camera_node.backends.gpcamera import (
    GP_ERROR,
    GP_ERROR_CAMERA_BUSY,
    GP_ERROR_CAMERA_ERROR,
    GP_ERROR_FILE_NOT_FOUND,
    GP_ERROR_IO,
    GPError,
)
from camera_node.clock import Clock, RealClock
from camera_node.sim import truth
from camera_node.sim.capture import render_capture
from camera_node.sim.faults import Faults
from camera_node.sim.motor import Direction, Motor
from camera_node.sim.optics import View, live_view
from camera_node.sim.render import Renderer
from camera_node.sim.scene import SceneData
from camera_node.sim.stream import Encoder, encode_frame

CAPTURE_LATENCY_S = 0.35  # shutter, write and the camera's own processing before download
# A new magnification or magnified area reaches the live view this long after it is set;
# frames before then show the view before.  (Nodes wait 0.3 s before they trust a frame
# after a zoom: camera_node.motion.)
ZOOM_SWITCH_S = 0.2
CAPTURE_JPEG_QUALITY = 92
ZOOM_LEVELS = (1, 5, 10)


@dataclass(frozen=True, slots=True)
class Frame:
    jpeg: bytes
    t: float  # capture time (clock seconds) of the frame
    index: int
    position: float  # true motor position when exposed (truth)


@dataclass(frozen=True, slots=True)
class _Shot:
    position: float
    f_number: float


class SimCamera:
    """A Canon-like body over a scene.  Not thread-safe beyond one caller plus truth readers."""

    def __init__(
        self, scene: SceneData, *, clock: Clock | None = None, seed: int | None = None, nikon: bool = False
    ) -> None:
        self.scene = scene
        self.spec = scene.spec
        self.clock: Clock = clock if clock is not None else RealClock()
        self.seed = scene.spec.seed if seed is None else seed
        self.nikon = nikon
        ss = np.random.SeedSequence(self.seed)
        motor_ss, stream_ss, frame_ss = ss.spawn(3)
        self.motor = Motor(scene.spec.motor, np.random.default_rng(motor_ss))
        self.renderer = Renderer(scene)
        self.encoder = Encoder(scene.spec.stream, np.random.default_rng(stream_ss))
        self._frame_rng = np.random.default_rng(frame_ss)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.f_number = scene.spec.optics.f_number
        self.liveview = False
        self.live_ready_at = 0.0
        self._zoom = 1
        cw, ch = scene.spec.optics.capture
        self._zoom_xy = (cw // 2, ch // 2)  # top-left of the magnified area, sensor pixels
        self._view_set_at = -math.inf  # when zoom or zoom_xy last changed
        self._shown: View | None = None  # the view the live view shows
        self._frame_index = 0
        self._last_frame_t = -math.inf
        self._last_jpeg: bytes | None = None
        self.last_frame: Frame | None = None
        self._shots: dict[str, _Shot] = {}
        self._shot_count = 0
        self.capture_latency_s = CAPTURE_LATENCY_S

    # ---- faults (tests and benchmarks) ------------------------------------------------------
    def usb_disconnect(self) -> None:
        with self.lock:
            self.faults.usb_disconnect()
            self.liveview = False

    def replug(self) -> None:
        with self.lock:
            self.faults.replug()

    def freeze_frames(self, on: bool = True) -> None:
        self.faults.freeze_frames(on)

    def drop_frames(self, probability: float) -> None:
        self.faults.drop_frames(probability)

    def slow_frames(self, extra_s: float) -> None:
        self.faults.slow_frames(extra_s)

    def busy(self, on: bool = True) -> None:
        self.faults.set_busy(on)

    # ---- truth (tests and benchmarks only) --------------------------------------------------
    def true_position(self) -> float:
        return self.motor.position(self.clock.now())

    def best_position(
        self, roi: tuple[float, float, float, float] = (0, 0, 1, 1), view: View | None = None
    ) -> float:
        return truth.best_position(self, roi, view)

    def blur_px(
        self,
        position: float | None = None,
        view: View | None = None,
        roi: tuple[float, float, float, float] = (0, 0, 1, 1),
    ) -> float:
        return truth.blur_px(self, position, view, roi)

    def set_true_position(self, position: float) -> None:
        self.motor.set_position(position)

    def displace(self, delta: float) -> None:
        """Move the resting motor by ``delta`` steps, its gear as it was (:meth:`Motor.displace`)."""
        self.motor.displace(self.clock.now(), delta)

    # ---- views ------------------------------------------------------------------------------
    @property
    def zoom(self) -> int:
        return self._zoom

    @zoom.setter
    def zoom(self, zoom: int) -> None:
        if zoom != self._zoom:
            self._zoom = zoom
            self._view_set_at = self.clock.now()

    @property
    def zoom_xy(self) -> tuple[int, int]:
        """Top-left corner of the magnified area, sensor pixels."""
        return self._zoom_xy

    @zoom_xy.setter
    def zoom_xy(self, xy: tuple[int, int]) -> None:
        if xy != self._zoom_xy:
            self._zoom_xy = xy
            self._view_set_at = self.clock.now()

    def current_view(self) -> View:
        """The view as set (zoom and area); frames show it from ZOOM_SWITCH_S after that."""
        return self.view_for(self.zoom, self.zoom_xy)

    def frame_view(self, t: float) -> View:
        """The view a frame read at ``t`` shows.  Before a new view reaches the live view,
        its model is built on the renderer's background thread, so the camera's own
        thread, drives included, is not held up by it (a frame after the switch waits
        for it, if it is not built by then)."""
        want = self.current_view()
        if self._shown is None or want.key == self._shown.key or t >= self._view_set_at + ZOOM_SWITCH_S:
            self._shown = want
        else:
            self.renderer.prepare(want)
        return self._shown

    def view_for(self, zoom: int, xy: tuple[int, int]) -> View:
        cw, ch = self.spec.optics.capture
        cx = (xy[0] + cw / zoom / 2) / cw
        cy = (xy[1] + ch / zoom / 2) / ch
        return live_view(self.spec.optics, zoom, (cx, cy))

    def clamp_zoom_xy(self, zoom: int, x: int, y: int) -> tuple[int, int]:
        cw, ch = self.spec.optics.capture
        return (min(max(0, x), cw - cw // zoom), min(max(0, y), ch - ch // zoom))

    # ---- body (the facade calls these) ------------------------------------------------------
    def check(self, *, talks: bool = True) -> None:
        if self.faults.unplugged:
            raise GPError(GP_ERROR_IO, "I/O problem (USB device gone)")
        if talks and self.faults.busy:
            raise GPError(GP_ERROR_CAMERA_BUSY, "Camera busy")

    def live_running(self) -> bool:
        return self.liveview and self.clock.now() >= self.live_ready_at

    def body_set_liveview(self, on: bool) -> None:
        self.check()
        if on and not self.liveview:
            self.liveview = True
            self.live_ready_at = self.clock.now() + self.spec.stream.mirror_up_s
        elif not on:
            self.liveview = False

    def body_drive(self, direction: Direction, level: int) -> None:
        self.check()
        if not self.live_running():
            # libgphoto2 returns GP_ERROR for any failed EOS DriveLens (the body says "not ready").
            raise GPError(GP_ERROR, "Canon manual focus drive failed (live view is off)")
        self.motor.drive_level(self.clock.now(), direction, level)

    def body_steps(self, steps: int) -> None:
        self.check()
        if not self.live_running():
            raise GPError(GP_ERROR_CAMERA_ERROR, "Nikon manual focus drive needs live view")
        if steps == 0:
            return
        direction: Direction = "near" if steps < 0 else "far"
        if self.motor.at_limit(direction):
            raise GPError(GP_ERROR_CAMERA_ERROR, "Nikon manual focus at limit")
        result = self.motor.drive_steps(self.clock.now(), steps)
        if result.hit_limit:
            raise GPError(GP_ERROR_CAMERA_ERROR, "Nikon manual focus at limit")

    def body_preview(self) -> Frame:
        """Wait for the next live-view frame and return it (starts live view if off)."""
        self.check()
        if not self.liveview:
            self.body_set_liveview(True)
        period = 1.0 / self.spec.stream.fps
        while True:
            now = self.clock.now()
            earliest = max(now, self.live_ready_at, self._last_frame_t + period * 0.5)
            k = math.ceil((earliest - self.live_ready_at) / period - 1e-9)
            t = self.live_ready_at + k * period
            self.clock.sleep(t - now)
            self._last_frame_t = t
            self.check()
            view = self.frame_view(t)
            if not self.renderer.ready(view):
                # Set the view up first (a zoom change or the first frame).  If that took
                # time, this frame is gone and the next is taken: a frame is never returned
                # long after the moment it shows, which would make it look settled when its
                # motor was moving.  (In virtual time it takes none: the same frame.)
                self.renderer.model(view)
                if self.clock.now() > t:
                    continue
            if self.faults.drop_probability and self._frame_rng.random() < self.faults.drop_probability:
                continue
            break
        if self.faults.slow_extra_s:
            self.clock.sleep(self.faults.slow_extra_s)
        self._frame_index += 1
        position = self.motor.position(t - self.spec.stream.lag_s)
        if self.faults.frozen and self.last_frame is not None:
            frame = Frame(self.last_frame.jpeg, t, self._frame_index, self.last_frame.position)
        else:
            frame = Frame(self.render_jpeg(position, view), t, self._frame_index, position)
        self.last_frame = frame
        return frame

    def render_jpeg(self, position: float, view: View, *, noise: bool = True) -> bytes:
        planes = self.renderer.render(view, position, self.f_number)
        ycc = self.encoder.expose(planes, noise=noise)
        return encode_frame(ycc, self.spec.stream.jpeg_quality)

    def body_capture(self) -> tuple[str, str]:
        self.check()
        self.clock.sleep(self.capture_latency_s)
        self.check()
        self._shot_count += 1
        name = f"IMG_{self._shot_count:04d}.JPG"
        self._shots[name] = _Shot(self.motor.position(self.clock.now()), self.f_number)
        return "/store_00020001/DCIM/100CANON", name

    def body_file_get(self, folder: str, name: str) -> bytes:
        self.check()
        shot = self._shots.get(name)
        if shot is None or folder != "/store_00020001/DCIM/100CANON":
            raise GPError(GP_ERROR_FILE_NOT_FOUND, f"File '{name}' not found")
        return render_capture(self.scene, shot.position, shot.f_number, self.seed, CAPTURE_JPEG_QUALITY)

    def body_file_delete(self, folder: str, name: str) -> None:
        self.check()
        if self._shots.pop(name, None) is None:
            raise GPError(GP_ERROR_FILE_NOT_FOUND, f"File '{name}' not found")
