"""Sampling a scene for one view: the sharp image, its focus map and its depth layers.

The scene's photograph covers the whole sensor.  A view (live, magnified live, capture)
samples the part it covers, with a margin for the blur, and adds a fixed micro-texture at
the capture pixel scale.  The photographs we ship are far smaller than a 24 MP capture, so
without that texture a 10x live view or a full capture would have nothing finer than the
photograph's own pixels to focus on; real surfaces (paper, fabric, paint) have such grain.

Depth is rendered by layers: every distinct focus value is a layer with a hard mask when a
scene has few (planes and rectangles); a continuous depth map is split into evenly spaced
layers with tent weights, spaced so that neighbours differ by about 1.5 px of blur in that
view, but never more than MAX_SOFT_LAYERS of them (the cap usually binds: the moto scene's
8 layers differ by 8.9 px of blur at 1x).  Near focus, where that spacing would show, the
renderer redraws each pixel at its own depth (:mod:`camera_node.sim.nearfocus`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from camera_node.sim.optics import View, blur_rate_px
from camera_node.sim.scene import SceneData

F32 = NDArray[np.float32]

TEXTURE_AMPLITUDE = 0.12  # relative luminance grain per capture pixel
MAX_HARD_LAYERS = 12
MAX_SOFT_LAYERS = 8
LAYER_BLUR_STEP_PX = 1.5


@dataclass(frozen=True, slots=True)
class ViewImage:
    """A view's sharp image with ``margin`` pixels on every side (right/bottom may get one more)."""

    view: View
    margin: int
    rgb: F32  # (He, We, 3), 0..255
    luma: F32  # (He, We) with texture
    focus: F32  # (He, We)


def _padded_source(scene: SceneData) -> tuple[Image.Image, int, int]:
    h, w = scene.rgb.shape[:2]
    pad = max(h, w) // 2
    padded = np.pad(scene.rgb, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    return Image.fromarray(padded, "RGB"), pad, pad


def sample_view(scene: SceneData, view: View, margin: int) -> ViewImage:
    """The sharp image and focus map of ``view``, with a reflected or real margin."""
    h, w = scene.rgb.shape[:2]
    ew = view.width + 2 * margin
    eh = view.height + 2 * margin
    ew += ew % 2
    eh += eh % 2
    sx = (view.x1 - view.x0) * w / view.width  # source px per view px
    sy = (view.y1 - view.y0) * h / view.height
    bx0 = view.x0 * w - margin * sx
    by0 = view.y0 * h - margin * sy
    box_src = (bx0, by0, bx0 + ew * sx, by0 + eh * sy)
    src, px, py = _padded_source(scene)
    box = (box_src[0] + px, box_src[1] + py, box_src[2] + px, box_src[3] + py)
    resample = Image.Resampling.BICUBIC if sx < 1 else Image.Resampling.BOX
    rgb_im = src.resize((ew, eh), resample, box=box)
    rgb = np.asarray(rgb_im, dtype=np.float32)
    fpad = np.pad(scene.focus, ((py, py), (px, px)), mode="edge")
    f_resample = Image.Resampling.BILINEAR if scene.smooth_depth else Image.Resampling.NEAREST
    focus = np.asarray(Image.fromarray(fpad, "F").resize((ew, eh), f_resample, box=box), np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    luma = luma * _texture(scene, view, (eh, ew))
    return ViewImage(view, margin, rgb, luma.astype(np.float32), focus)


def _texture(scene: SceneData, view: View, shape: tuple[int, int]) -> F32:
    """1 + grain; the grain is white at the capture pixel scale, averaged to the view's pixels."""
    cap_w = scene.spec.optics.capture[0]
    ratio = (view.x1 - view.x0) * cap_w / view.width  # capture px per view px
    seed = zlib.crc32(repr((scene.spec.seed, view.key)).encode())
    rng = np.random.default_rng(seed)
    eh, ew = shape
    if ratio >= 1:
        n = rng.standard_normal((eh, ew), dtype=np.float32) * np.float32(TEXTURE_AMPLITUDE / ratio)
    else:
        gh, gw = int(eh * ratio) + 2, int(ew * ratio) + 2
        g = rng.standard_normal((gh, gw), dtype=np.float32) * np.float32(TEXTURE_AMPLITUDE)
        im = Image.fromarray(g, "F").resize(
            (ew, eh), Image.Resampling.BILINEAR, box=(0, 0, ew * ratio, eh * ratio)
        )
        n = np.array(im, np.float32)
    n += np.float32(1.0)
    return n


def layers_for(vi: ViewImage, optics_rate: float) -> tuple[list[tuple[float, F32]], float]:
    """Depth layers of a view: (focus value, weight map), the weights summing to 1 everywhere;
    and the spacing of soft (tent) layers in motor units, 0 for hard masks."""
    f = vi.focus
    lo, hi = float(f.min()), float(f.max())
    if hi - lo < 1e-6:
        return [(lo, np.ones_like(f))], 0.0
    values = np.unique(f)
    if values.size <= MAX_HARD_LAYERS:
        return [(float(v), (f == v).astype(np.float32)) for v in values], 0.0
    k = int(np.ceil((hi - lo) * optics_rate / LAYER_BLUR_STEP_PX)) + 1
    k = min(MAX_SOFT_LAYERS, max(2, k))
    centres = np.linspace(lo, hi, k)
    step = centres[1] - centres[0]
    out: list[tuple[float, F32]] = []
    for c in centres:
        wgt = np.clip(1.0 - np.abs(f - np.float32(c)) / np.float32(step), 0.0, 1.0).astype(np.float32)
        if wgt.any():
            out.append((float(c), wgt))
    return out, float(step)


def view_rate(scene: SceneData, view: View, f_number: float) -> float:
    return blur_rate_px(scene.spec.optics, view, f_number)


def to_ycc(rgb: F32) -> tuple[F32, F32]:
    """Chroma (Cb, Cr), centred on 0, JPEG (BT.601 full range) coefficients."""
    cb = rgb @ np.array([-0.168736, -0.331264, 0.5], np.float32)
    cr = rgb @ np.array([0.5, -0.418688, -0.081312], np.float32)
    return cb.astype(np.float32), cr.astype(np.float32)


def half(a: F32) -> F32:
    """2x2 block mean (dimensions must be even)."""
    h, w = a.shape
    out: F32 = a.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3), dtype=np.float32)
    return out
