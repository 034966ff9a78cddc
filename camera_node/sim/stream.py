"""From a rendered frame to the camera's JPEG bytes: exposure flicker, sensor noise, breathing.

Noise: per pixel sigma^2 = read_noise^2 + shot_noise * signal (8-bit levels), drawn from a
pool of precomputed unit normal fields at random offsets, so a frame costs a few array
operations.  Chroma gets the same model at half resolution.  Encoding is Pillow's JPEG at
the scene's quality (no optimisation pass), from YCbCr planes, as a camera's encoder does.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from camera_node.sim.optics import View
from camera_node.sim.render import Planes
from camera_node.sim.scene import StreamParams

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]

_POOL_PAD = 64


class NoisePool:
    """Unit normal fields big enough for a (h, w) frame at any offset up to _POOL_PAD."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int], count: int = 2) -> None:
        h, w = shape
        self._rng = rng
        self._fields = [
            rng.standard_normal((h + _POOL_PAD, w + _POOL_PAD), dtype=np.float32) for _ in range(count)
        ]
        self.shape = shape

    def take(self) -> F32:
        f = self._fields[int(self._rng.integers(len(self._fields)))]
        oy, ox = (int(v) for v in self._rng.integers(0, _POOL_PAD, size=2))
        h, w = self.shape
        return f[oy : oy + h, ox : ox + w]


class Encoder:
    """Adds flicker and noise to :class:`Planes` and encodes a JPEG."""

    def __init__(self, params: StreamParams, rng: np.random.Generator) -> None:
        self.p = params
        self._rng = rng
        self._pools: dict[tuple[int, int], NoisePool] = {}

    def _pool(self, shape: tuple[int, int]) -> NoisePool:
        pool = self._pools.get(shape)
        if pool is None:
            pool = NoisePool(self._rng, shape)
            self._pools[shape] = pool
        return pool

    def expose(self, planes: Planes, *, noise: bool = True) -> tuple[U8, U8, U8]:
        """Apply flicker and noise; return 8-bit Y (full) and Cb, Cr (half resolution)."""
        gain = np.float32(1.0 + self.p.flicker * float(self._rng.standard_normal()))
        y = planes.y * gain
        cb = planes.cb * gain
        cr = planes.cr * gain
        if noise and (self.p.read_noise > 0 or self.p.shot_noise > 0):
            var = np.maximum(y, np.float32(0.0))
            var *= np.float32(self.p.shot_noise)
            var += np.float32(self.p.read_noise**2)
            np.sqrt(var, out=var)
            var *= self._pool(y.shape).take()
            y += var
            ch_sigma = np.float32(np.sqrt(self.p.read_noise**2 + self.p.shot_noise * 64.0) * 0.5)
            cb += self._pool(cb.shape).take() * ch_sigma
            cr += self._pool(cr.shape).take() * ch_sigma
        return _u8(y, 0.0), _u8(cb, 128.0), _u8(cr, 128.0)


def _u8(a: F32, offset: float) -> U8:
    if offset:
        a = a + np.float32(offset)
    np.clip(a, 0, 255, out=a)
    return a.astype(np.uint8)


def to_image(y: U8, cb: U8, cr: U8) -> Image.Image:
    """A YCbCr Pillow image (chroma upsampled to full size)."""
    h, w = y.shape
    yi = Image.fromarray(y, "L")
    cbi = Image.fromarray(cb, "L").resize((w, h), Image.Resampling.BILINEAR)
    cri = Image.fromarray(cr, "L").resize((w, h), Image.Resampling.BILINEAR)
    return Image.merge("YCbCr", (yi, cbi, cri))


def breathe(image: Image.Image, view: View, magnification: float) -> Image.Image:
    """Scale the image about the optical axis (the sensor centre) by ``magnification``."""
    w, h = image.size
    span_x, span_y = view.x1 - view.x0, view.y1 - view.y0
    # Output pixel x sees sensor u = x0 + x / w * span; the scene there is 0.5 + (u - 0.5) / m.
    a = 1.0 / magnification
    cx = ((0.5 + (view.x0 - 0.5) * a) - view.x0) / span_x * w
    cy = ((0.5 + (view.y0 - 0.5) * a) - view.y0) / span_y * h
    if abs(a - 1) * max(w, h) < 0.02 and abs(cx) < 0.02 and abs(cy) < 0.02:
        return image
    return image.transform(
        (w, h), Image.Transform.AFFINE, (a, 0.0, cx, 0.0, a, cy), resample=Image.Resampling.BILINEAR
    )


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
