"""Full-resolution capture: the whole sensor at capture size, blurred for its pixel pitch.

Layers as in live view, but blurred in the image domain one at a time (a 24 MP spectrum per
layer would not fit in memory comfortably).  Big blurs are computed on a reduced grid
(at most 1/6 of the diameter per cell) and scaled back up, which changes the disk's width
by well under 2 %; the layers reduced by the same factor are summed there and scaled up
once (:class:`BlurSum`).  Chroma is computed at quarter resolution.
"""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from camera_node.sim.optics import blur_rate_px, capture_view, disk_blur
from camera_node.sim.scene import SceneData
from camera_node.sim.stream import encode_jpeg
from camera_node.sim.views import LAYER_BLUR_STEP_PX, MAX_HARD_LAYERS, TEXTURE_AMPLITUDE

F32 = NDArray[np.float32]
MAX_CAPTURE_LAYERS = 10


def _resize(a: F32, size: tuple[int, int], resample: Image.Resampling) -> F32:
    return np.asarray(Image.fromarray(a, "F").resize(size, resample), np.float32)


class BlurSum:
    """A sum of pillbox-blurred images of one shape; large diameters on a coarser grid.

    An image blurred by ``diameter`` >= 12 px is reduced by the power of two s with
    diameter / s in [6, 12), blurred there, and added to that grid's sum; each grid's sum is
    scaled back up once, in :meth:`total` (scaling up is linear, so this is the sum of the
    images scaled up one by one, for a fraction of the work).
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = shape
        self._full: F32 | None = None
        self._small: dict[int, F32] = {}

    def add(self, a: F32, diameter: float) -> None:
        h, w = self.shape
        if diameter < 12:
            b = disk_blur(a, diameter)
            if self._full is None:
                self._full = np.array(b, np.float32)
            else:
                self._full += b
            return
        s = 2 ** int(np.log2(diameter / 6))
        small = _resize(a, (max(1, w // s), max(1, h // s)), Image.Resampling.BOX)
        small = disk_blur(small, diameter * small.shape[1] / w)
        acc = self._small.get(s)
        if acc is None:
            self._small[s] = small
        else:
            acc += small

    def total(self) -> F32:
        h, w = self.shape
        out = self._full if self._full is not None else np.zeros((h, w), np.float32)
        for small in self._small.values():
            out += _resize(small, (w, h), Image.Resampling.BILINEAR)
        return out


def blur_scaled(a: F32, diameter: float) -> F32:
    """Pillbox blur; large diameters on a coarser grid (:class:`BlurSum` of one image)."""
    acc = BlurSum(a.shape)
    acc.add(a, diameter)
    return acc.total()


def _sample(scene: SceneData, size: tuple[int, int]) -> tuple[F32, F32, F32, F32]:
    """Luma, Cb, Cr (centred) and focus map at ``size`` covering the whole sensor."""
    im = Image.fromarray(scene.rgb, "RGB").resize(size, Image.Resampling.BICUBIC)
    ycc = np.asarray(im.convert("YCbCr"), np.float32)
    f_resample = Image.Resampling.BILINEAR if scene.smooth_depth else Image.Resampling.NEAREST
    focus = _resize(scene.focus, size, f_resample)
    return ycc[..., 0], ycc[..., 1] - 128, ycc[..., 2] - 128, focus


def render_capture_rgb(scene: SceneData, position: float, f_number: float, seed: int) -> Image.Image:
    """The noise-free capture as an RGB Pillow image."""
    optics = scene.spec.optics
    w, h = optics.capture
    rate = blur_rate_px(optics, capture_view(optics), f_number)
    y, _, _, focus = _sample(scene, (w, h))
    rng = np.random.default_rng(zlib.crc32(repr((seed, "capture", w, h)).encode()))
    grain = rng.standard_normal((h, w), dtype=np.float32)
    grain *= np.float32(TEXTURE_AMPLITUDE)
    grain += np.float32(1.0)
    y *= grain
    del grain
    qw, qh = max(1, w // 4), max(1, h // 4)
    _, cb, cr, focus_q = _sample(scene, (qw, qh))
    layers = _layers(scene.focus, rate)
    sums = [BlurSum((h, w)), BlurSum((qh, qw)), BlurSum((qh, qw))]
    norms = None if len(layers) == 1 else (BlurSum((h, w)), BlurSum((qh, qw)))
    for value, step in layers:
        d = abs(position - value) * rate
        wf = _weights(focus, value, step)
        wq = _weights(focus_q, value, step)
        sums[0].add(y * wf, d)
        sums[1].add(cb * wq, d / 4)
        sums[2].add(cr * wq, d / 4)
        if norms is not None:
            norms[0].add(wf, d)
            norms[1].add(wq, d / 4)
    out_y, out_cb, out_cr = (acc.total() for acc in sums)
    norm, norm_q = (acc.total() for acc in norms) if norms is not None else (None, None)
    if norm is not None and norm_q is not None:
        out_y /= np.maximum(norm, np.float32(1e-3))
        out_cb /= np.maximum(norm_q, np.float32(1e-3))
        out_cr /= np.maximum(norm_q, np.float32(1e-3))
    planes = [Image.fromarray(np.clip(out_y, 0, 255).astype(np.uint8), "L")]
    for c in (out_cb, out_cr):
        q = np.clip(c + 128, 0, 255).astype(np.uint8)
        planes.append(Image.fromarray(q, "L").resize((w, h), Image.Resampling.BILINEAR))
    return Image.merge("YCbCr", tuple(planes))


def _layers(focus_src: F32, rate: float) -> list[tuple[float, float]]:
    """(focus value, tent half-width; 0 = hard mask) per layer, from the source focus map."""
    values = np.unique(focus_src)
    if values.size <= MAX_HARD_LAYERS:
        return [(float(v), 0.0) for v in values]
    lo, hi = float(values[0]), float(values[-1])
    k = min(MAX_CAPTURE_LAYERS, max(2, int(np.ceil((hi - lo) * rate / LAYER_BLUR_STEP_PX)) + 1))
    centres = np.linspace(lo, hi, k)
    step = float(centres[1] - centres[0])
    return [(float(c), step) for c in centres]


def _weights(focus: F32, value: float, step: float) -> F32:
    out: F32
    if step == 0.0:
        out = (focus == np.float32(value)).astype(np.float32)
    else:
        out = np.clip(1.0 - np.abs(focus - np.float32(value)) / np.float32(step), 0.0, 1.0).astype(np.float32)
    return out


def render_capture(scene: SceneData, position: float, f_number: float, seed: int, quality: int) -> bytes:
    """The capture as JPEG bytes (a real camera's fine JPEG is about quality 90+)."""
    return encode_jpeg(render_capture_rgb(scene, position, f_number, seed), quality)
