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
        self._sigma_for: Planes | None = None
        self._sigma: F32 | None = None

    def _pool(self, shape: tuple[int, int]) -> NoisePool:
        pool = self._pools.get(shape)
        if pool is None:
            pool = NoisePool(self._rng, shape)
            self._pools[shape] = pool
        return pool

    def _sigma_map(self, planes: Planes) -> F32:
        """Per-pixel noise sigma of the luminance (cached for a still frame)."""
        if self._sigma_for is not planes or self._sigma is None:
            var = np.maximum(planes.y, np.float32(0.0))
            var *= np.float32(self.p.shot_noise)
            var += np.float32(self.p.read_noise**2)
            self._sigma = np.sqrt(var, out=var)
            self._sigma_for = planes
        return self._sigma

    def expose(self, planes: Planes, *, noise: bool = True) -> U8:
        """Flicker and noise; an (H, W, 3) YCbCr array, chroma repeated 2x2 (JPEG averages it back)."""
        gain = np.float32(1.0 + self.p.flicker * float(self._rng.standard_normal()))
        h, w = planes.y.shape
        y = planes.y * gain
        cb = planes.cb * gain
        cr = planes.cr * gain
        if noise and (self.p.read_noise > 0 or self.p.shot_noise > 0):
            y += self._sigma_map(planes) * self._pool(y.shape).take()
            ch_sigma = np.float32(np.sqrt(self.p.read_noise**2 + self.p.shot_noise * 64.0) * 0.5)
            cb += self._pool(cb.shape).take() * ch_sigma
            cr += self._pool(cr.shape).take() * ch_sigma
        out = np.empty((h, w, 3), np.uint8)
        y += np.float32(0.5)
        np.clip(y, 0, 255, out=y)
        out[..., 0] = y
        for i, c in ((1, cb), (2, cr)):
            c += np.float32(128.5)
            np.clip(c, 0, 255, out=c)
            c8 = c.astype(np.uint8)
            hh, hw = c8.shape
            for dy in (0, 1):
                for dx in (0, 1):
                    out[dy : 2 * hh : 2, dx : 2 * hw : 2, i] = c8[: (h - dy + 1) // 2, : (w - dx + 1) // 2]
        return out


def ycc_image(ycc: U8) -> Image.Image:
    """A Pillow YCbCr image over an (H, W, 3) array (no copy)."""
    h, w = ycc.shape[:2]
    return Image.frombuffer("YCbCr", (w, h), ycc, "raw", "YCbCr", 0, 1)


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
