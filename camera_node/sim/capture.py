"""Full-resolution capture: the whole sensor at capture size, blurred for its pixel pitch.

Layers as in live view, but blurred in the image domain one at a time (a 24 MP spectrum per
layer would not fit in memory comfortably).  Big blurs are computed on a reduced grid
(at most 1/6 of the diameter per cell) and scaled back up, which changes the disk's width
by well under 2 %.  Chroma is computed at quarter resolution.
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


def blur_scaled(a: F32, diameter: float) -> F32:
    """Pillbox blur; large diameters on a coarser grid."""
    if diameter < 12:
        return disk_blur(a, diameter)
    s = 2 ** int(np.log2(diameter / 6))
    h, w = a.shape
    small = _resize(a, (max(1, w // s), max(1, h // s)), Image.Resampling.BOX)
    small = disk_blur(small, diameter * small.shape[1] / w)
    return _resize(small, (w, h), Image.Resampling.BILINEAR)


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
    out_y = np.zeros((h, w), np.float32)
    out_cb = np.zeros((qh, qw), np.float32)
    out_cr = np.zeros((qh, qw), np.float32)
    norm = None if len(layers) == 1 else np.zeros((h, w), np.float32)
    norm_q = None if len(layers) == 1 else np.zeros((qh, qw), np.float32)
    for value, step in layers:
        d = abs(position - value) * rate
        wf = _weights(focus, value, step)
        wq = _weights(focus_q, value, step)
        out_y += blur_scaled(y * wf, d)
        out_cb += blur_scaled(cb * wq, d / 4)
        out_cr += blur_scaled(cr * wq, d / 4)
        if norm is not None and norm_q is not None:
            norm += blur_scaled(wf, d)
            norm_q += blur_scaled(wq, d / 4)
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
