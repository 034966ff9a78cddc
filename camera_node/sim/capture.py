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
from camera_node.sim.views import MAX_HARD_LAYERS, TEXTURE_AMPLITUDE

F32 = NDArray[np.float32]
NEAR_LAYER_PX = 3.0  # blur between the layer at the capture's focus and the next ones
LAYER_RATIO = 2.0  # and each next step out from focus is twice as long


def _resize(a: F32, size: tuple[int, int], resample: Image.Resampling) -> F32:
    return np.asarray(Image.fromarray(a, "F").resize(size, resample), np.float32)


def _support(a: F32, margin: int) -> tuple[slice, slice] | None:
    """The rows and columns where ``a`` is non-zero, ``margin`` pixels wider on each side
    (within ``a``); None if ``a`` is zero everywhere.

    A blur of diameter < 2 (margin - 4) changes nothing outside that box, and inside it
    the box's own zero border stands in for the rest of the image, so blurring the box is
    blurring the image (where the box meets the image's edge, both reflect the same)."""
    rows = np.flatnonzero(a.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(a.any(axis=0))
    h, w = a.shape
    y0, y1 = max(0, int(rows[0]) - margin), min(h, int(rows[-1]) + 1 + margin)
    x0, x1 = max(0, int(cols[0]) - margin), min(w, int(cols[-1]) + 1 + margin)
    return slice(y0, y1), slice(x0, x1)


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
            if self._full is None:
                self._full = np.zeros((h, w), np.float32)
            box = _support(a, int(diameter / 2) + 4)
            if box is not None:
                ys, xs = box
                self._full[ys, xs] += disk_blur(np.ascontiguousarray(a[ys, xs]), diameter)
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
    layers = capture_layers(scene.focus, rate, position)
    sums = [BlurSum((h, w)), BlurSum((qh, qw)), BlurSum((qh, qw))]
    norms = None if len(layers) == 1 else (BlurSum((h, w)), BlurSum((qh, qw)))
    for layer in layers:
        d = abs(position - layer[0]) * rate
        wf = _weights(focus, layer)
        wq = _weights(focus_q, layer)
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


Layer = tuple[float, float, float]  # (centre, left neighbour, right neighbour); all equal: a hard mask


def capture_layers(focus_src: F32, rate: float, position: float) -> list[Layer]:
    """The capture's depth layers, from the source focus map.

    A map of a few depths gets one hard mask per depth.  A continuous one gets tent layers
    around the capture's own focus: one centred on ``position``, then centres
    ``NEAR_LAYER_PX`` of blur away, doubling outwards, and one at each end of the depth
    range.  A pixel between two centres is a blend of both blurs, so it is wrong by up
    to half their distance: within ``NEAR_LAYER_PX`` / 2 near focus, and at most half its
    own blur farther out.  The part of the scene in focus is sharp.  (Centres evenly
    spaced over the depth range, as before session 7, left a pixel in focus blurred by up
    to half a spacing: 22 px on `moto`, whose in-focus tank came out with an eighth of the
    gradient energy it has.)
    """
    values = np.unique(focus_src)
    if values.size <= MAX_HARD_LAYERS:
        return [(float(v), float(v), float(v)) for v in values]
    lo, hi = float(values[0]), float(values[-1])
    centres = {lo, hi, min(max(position, lo), hi)}
    step = NEAR_LAYER_PX / rate if rate > 0 else hi - lo
    while position - step > lo or position + step < hi:
        centres.update(c for c in (position - step, position + step) if lo < c < hi)
        step *= LAYER_RATIO
    cs = sorted(centres)
    return [(c, cs[max(0, i - 1)], cs[min(len(cs) - 1, i + 1)]) for i, c in enumerate(cs)]


def _weights(focus: F32, layer: Layer) -> F32:
    """A layer's share of each pixel: its mask, or its tent (1 at its centre, falling to 0 at
    the neighbouring centres; the tents of all layers add up to 1)."""
    c, left, right = (np.float32(v) for v in layer)
    if left == c == right:
        out: F32 = (focus == c).astype(np.float32)
        return out
    out = np.zeros(focus.shape, np.float32)
    below = focus <= c
    if left < c:
        np.copyto(out, np.clip((focus - left) / (c - left), 0.0, 1.0), where=below)
    else:
        out[below] = 1.0  # the lowest centre holds everything below it
    if right > c:
        np.copyto(out, np.clip((right - focus) / (right - c), 0.0, 1.0), where=~below)
    else:
        out[~below] = 1.0
    return out


def render_capture(scene: SceneData, position: float, f_number: float, seed: int, quality: int) -> bytes:
    """The capture as JPEG bytes (a real camera's fine JPEG is about quality 90+)."""
    return encode_jpeg(render_capture_rgb(scene, position, f_number, seed), quality)
