"""From a rendered frame to the camera's JPEG bytes: exposure flicker, sensor noise, breathing.

Noise: per pixel sigma^2 = read_noise^2 + shot_noise * signal (8-bit levels), drawn from a
pool of precomputed unit normal fields at random offsets, so a frame costs a few array
operations, done in bands of rows.  Chroma gets the same model at half resolution.
Encoding is libjpeg-turbo's baseline JPEG at the scene's quality (through simplejpeg, no
optimisation pass), straight from 8-bit 4:2:0 YCbCr planes, as a camera's encoder does: no
colour conversion and no chroma resampling on the way.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import simplejpeg
from numpy.typing import NDArray
from PIL import Image

from camera_node.sim import native
from camera_node.sim.render import Planes
from camera_node.sim.scene import StreamParams

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]

_POOL_PAD = 64
# 128 x 960 float32 = 492 kB per work buffer: five bands of a 640-row frame.  64-row bands
# (in L2) measured 0.08 ms slower a frame: numpy's per-call cost outweighs the cache.
_BAND_ROWS = 128


@dataclass(frozen=True, slots=True)
class YccFrame:
    """One exposed frame as 8-bit 4:2:0 planes: luma (H, W), chroma (ceil(H/2), ceil(W/2)).

    Each chroma value covers 2x2 luma pixels; an odd last row or column of luma shares the
    chroma of its neighbour (the rendered chroma is (H // 2, W // 2); its edge is repeated).
    """

    y: U8
    cb: U8
    cr: U8


class NoisePool:
    """Unit normal fields big enough for a (h, w) frame at any offset up to _POOL_PAD."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int], count: int = 2) -> None:
        h, w = shape
        self._rng = rng
        self._fields = [
            rng.standard_normal((h + _POOL_PAD, w + _POOL_PAD), dtype=np.float32) for _ in range(count)
        ]
        self.shape = shape

    def window(self) -> tuple[F32, int, int]:
        """A field and the offset (row, column) of the next frame's window in it."""
        f = self._fields[int(self._rng.integers(len(self._fields)))]
        oy, ox = (int(v) for v in self._rng.integers(0, _POOL_PAD, size=2))
        return f, oy, ox

    def take(self) -> F32:
        f, oy, ox = self.window()
        h, w = self.shape
        return f[oy : oy + h, ox : ox + w]


class Encoder:
    """Adds flicker and noise to :class:`Planes` and encodes a JPEG."""

    def __init__(self, params: StreamParams, rng: np.random.Generator) -> None:
        self.p = params
        self._rng = rng
        self._pools: dict[tuple[int, int], NoisePool] = {}
        self._sigma_for: Planes | None = None
        self._buffers: dict[str, F32] = {}

    def _scratch(self, name: str, shape: tuple[int, int]) -> F32:
        """A float32 work buffer reused across frames (no allocation, no page faults)."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape:
            buf = np.empty(shape, np.float32)
            self._buffers[name] = buf
        return buf

    def _pool(self, shape: tuple[int, int]) -> NoisePool:
        pool = self._pools.get(shape)
        if pool is None:
            pool = NoisePool(self._rng, shape)
            self._pools[shape] = pool
        return pool

    def expose(self, planes: Planes, *, noise: bool = True) -> YccFrame:
        """Flicker and noise, rounded to 8 bits; chroma stays at half resolution."""
        gain = np.float32(1.0 + self.p.flicker * float(self._rng.standard_normal()))
        h, w = planes.y.shape
        noisy = noise and (self.p.read_noise > 0 or self.p.shot_noise > 0)
        ch_sigma = np.float32(np.sqrt(self.p.read_noise**2 + self.p.shot_noise * 64.0) * 0.5)
        compiled = native.module()
        if compiled is not None and all(p.flags.c_contiguous for p in (planes.y, planes.cb, planes.cr)):
            return self._expose_compiled(compiled, planes, gain, noisy, ch_sigma)
        cb = planes.cb * gain
        cr = planes.cr * gain
        if noisy:
            y8 = self._luma(planes, gain, self._pool((h, w)).take())
            cb += self._pool(cb.shape).take() * ch_sigma
            cr += self._pool(cr.shape).take() * ch_sigma
        else:
            y8 = self._luma(planes, gain, None)
        return YccFrame(y8, _chroma_8bit(cb, (h, w)), _chroma_8bit(cr, (h, w)))

    def _expose_compiled(
        self, compiled: ModuleType, planes: Planes, gain: np.float32, noisy: bool, ch_sigma: np.float32
    ) -> YccFrame:
        """:meth:`expose` in the compiled loops (native.py): the same draws, the same bytes."""
        h, w = planes.y.shape
        y8 = np.empty((h, w), np.uint8)
        shot, read2 = np.float32(self.p.shot_noise), np.float32(self.p.read_noise**2)
        field = self._pool((h, w)).window() if noisy else (None, 0, 0)
        sigma = self._scratch("sigma", (h, w))
        compiled.luma_8bit(planes.y, y8, sigma, self._sigma_for is not planes, *field, gain, shot, read2)
        if noisy:
            self._sigma_for = planes
        chroma = []
        for c in (planes.cb, planes.cr):
            out = np.empty(((h + 1) // 2, (w + 1) // 2), np.uint8)
            field = self._pool(c.shape).window() if noisy else (None, 0, 0)
            compiled.chroma_8bit(c, out, *field, gain, ch_sigma)
            chroma.append(_repeat_edges(out, c.shape))
        return YccFrame(y8, chroma[0], chroma[1])

    def _luma(self, planes: Planes, gain: np.float32, unit: F32 | None) -> U8:
        """round(clip(y * gain + sigma(y) * unit)), in bands of _BAND_ROWS rows.

        sigma(y) = sqrt(read^2 + shot * max(y, 0)) is kept for the next frame of the same planes
        (a resting motor).  Each pixel sees exactly the operations of the whole-frame version.
        """
        y = planes.y
        h, w = y.shape
        out = np.empty((h, w), np.uint8)
        buf = self._scratch("y", (_BAND_ROWS, w))
        tmp = self._scratch("tmp", (_BAND_ROWS, w))
        sigma = self._scratch("sigma", (h, w))
        fresh = self._sigma_for is not planes
        shot, read2 = np.float32(self.p.shot_noise), np.float32(self.p.read_noise**2)
        for r0 in range(0, h, _BAND_ROWS):
            r1 = min(h, r0 + _BAND_ROWS)
            b = buf[: r1 - r0]
            np.multiply(y[r0:r1], gain, out=b)
            if unit is not None:
                s = sigma[r0:r1]
                if fresh:
                    np.clip(y[r0:r1], 0, np.inf, out=s)  # max(y, 0): clip is 2x faster than maximum
                    s *= shot
                    s += read2
                    np.sqrt(s, out=s)
                b += np.multiply(s, unit[r0:r1], out=tmp[: r1 - r0])
            b += np.float32(0.5)
            np.clip(b, 0, 255, out=b)
            np.copyto(out[r0:r1], b, casting="unsafe")
        if unit is not None:
            self._sigma_for = planes
        return out


def _chroma_8bit(c: F32, shape: tuple[int, int]) -> U8:
    """A half-resolution chroma plane (centred on 0) as 8 bits, (ceil(H/2), ceil(W/2)) for a
    (H, W) frame: an odd last row or column repeats its neighbour."""
    h, w = shape
    hh, hw = c.shape
    c += np.float32(128.5)
    np.clip(c, 0, 255, out=c)
    out = np.empty(((h + 1) // 2, (w + 1) // 2), np.uint8)
    np.copyto(out[:hh, :hw], c, casting="unsafe")
    return _repeat_edges(out, (hh, hw))


def _repeat_edges(out: U8, filled: tuple[int, int]) -> U8:
    """``out`` with the rows and columns past ``filled`` (rows, columns) copied from the last ones filled."""
    hh, hw = filled
    if out.shape[1] > hw:
        out[:hh, hw:] = out[:hh, hw - 1 : hw]
    if out.shape[0] > hh:
        out[hh:] = out[hh - 1 : hh]
    return out


def full_chroma(frame: YccFrame) -> tuple[U8, U8]:
    """Cb and Cr at the luma's size, each value repeated 2x2 (what a decoder shows, unsmoothed)."""
    h, w = frame.y.shape

    def up(c: U8) -> U8:
        return np.repeat(np.repeat(c, 2, axis=0), 2, axis=1)[:h, :w]

    return up(frame.cb), up(frame.cr)


def ycc_image(frame: YccFrame) -> Image.Image:
    """A Pillow YCbCr image of a frame, chroma repeated 2x2 (for writing PNG strips)."""
    h, w = frame.y.shape
    cb, cr = full_chroma(frame)
    planes = (frame.y, cb, cr)
    bands = [Image.frombuffer("L", (w, h), np.ascontiguousarray(p), "raw", "L", 0, 1) for p in planes]
    return Image.merge("YCbCr", bands)


def encode_frame(frame: YccFrame, quality: int) -> bytes:
    """The frame as a baseline 4:2:0 JPEG, encoded from its planes as they are."""
    data: bytes = simplejpeg.encode_jpeg_yuv_planes(frame.y, frame.cb, frame.cr, quality=quality)
    return data


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """Pillow's JPEG of an image (the full-resolution capture)."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
