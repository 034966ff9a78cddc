"""Rendering a live-view frame: layered pillbox blur in the frequency domain.

For each view (zoom and centre) the renderer precomputes, once, the spectra of every depth
layer's luminance, chroma and weight.  A frame at motor position p then costs one
multiply-add per layer with the disk's transfer function for that layer's blur diameter,
and one inverse FFT per channel: luminance at full resolution, chroma and the layer
weights (which normalise occlusion edges) at half resolution, as a JPEG stores chroma.
Finished frames are cached by position, so a still motor costs nothing to re-render.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from camera_node.sim.optics import DiskOTF, View
from camera_node.sim.scene import SceneData
from camera_node.sim.views import half, layers_for, sample_view, to_ycc, view_rate

F32 = NDArray[np.float32]
C64 = NDArray[np.complex64]

MARGIN = 32


@dataclass(frozen=True, slots=True)
class Planes:
    """A rendered (noise-free) frame: luminance (H, W) 0..255, chroma (H/2, W/2) centred on 0."""

    y: F32
    cb: F32
    cr: F32


@dataclass(slots=True)
class _Layer:
    focus: float
    y: C64
    cb: C64
    cr: C64
    w: C64 | None


class _ViewModel:
    def __init__(self, scene: SceneData, view: View, rate_per_n: float) -> None:
        self.view = view
        self.rate_per_n = rate_per_n  # px per motor unit, times the f-number
        vi = sample_view(scene, view, MARGIN)
        self.full_shape = vi.luma.shape
        self.half_shape = (vi.luma.shape[0] // 2, vi.luma.shape[1] // 2)
        cb, cr = to_ycc(vi.rgb)
        cb_h, cr_h = half(cb), half(cr)
        nominal_rate = rate_per_n / scene.spec.optics.f_number
        layers = layers_for(vi, nominal_rate)
        self.single = len(layers) == 1
        self.layers: list[_Layer] = []
        for focus, wgt in layers:
            w_h = half(wgt)
            self.layers.append(
                _Layer(
                    focus,
                    _spectrum(vi.luma * wgt),
                    _spectrum(cb_h * w_h),
                    _spectrum(cr_h * w_h),
                    None if self.single else _spectrum(w_h),
                )
            )
        self.otf_full = DiskOTF(self.full_shape)
        self.otf_half = DiskOTF(self.half_shape)
        self.focus_sharp = vi.focus[MARGIN : MARGIN + view.height, MARGIN : MARGIN + view.width]
        self.luma_sharp = vi.luma[MARGIN : MARGIN + view.height, MARGIN : MARGIN + view.width]

    def render(self, position: float, f_number: float) -> Planes:
        rate = self.rate_per_n / f_number
        sy = np.zeros(self.layers[0].y.shape, np.complex64)
        scb = np.zeros(self.layers[0].cb.shape, np.complex64)
        scr = np.zeros_like(scb)
        sw = None if self.single else np.zeros_like(scb)
        for layer in self.layers:
            d = abs(position - layer.focus) * rate
            hf = self.otf_full(d)
            hh = self.otf_half(d / 2)
            _acc(sy, layer.y, hf)
            _acc(scb, layer.cb, hh)
            _acc(scr, layer.cr, hh)
            if sw is not None and layer.w is not None:
                _acc(sw, layer.w, hh)
        v, m = self.view, MARGIN
        mh = m // 2
        y = np.fft.irfft2(sy, s=self.full_shape)[m : m + v.height, m : m + v.width]
        cb = np.fft.irfft2(scb, s=self.half_shape)[mh : mh + v.height // 2, mh : mh + v.width // 2]
        cr = np.fft.irfft2(scr, s=self.half_shape)[mh : mh + v.height // 2, mh : mh + v.width // 2]
        if sw is not None:
            wh = np.fft.irfft2(sw, s=self.half_shape)[mh : mh + v.height // 2, mh : mh + v.width // 2]
            np.maximum(wh, np.float32(1e-3), out=wh)
            cb = cb / wh
            cr = cr / wh
            wf = np.repeat(np.repeat(wh, 2, axis=0), 2, axis=1)
            y = y / wf[: v.height, : v.width]
        return Planes(np.ascontiguousarray(y, np.float32), cb.astype(np.float32), cr.astype(np.float32))


def breathe(planes: Planes, view: View, magnification: float) -> Planes:
    """Scale the frame about the optical axis (the sensor centre) by ``magnification``."""
    h, w = planes.y.shape
    a = 1.0 / magnification
    # Output pixel x sees sensor u = x0 + x / w * span; the scene there is 0.5 + (u - 0.5) / m.
    cx = ((0.5 + (view.x0 - 0.5) * a) - view.x0) / (view.x1 - view.x0) * w
    cy = ((0.5 + (view.y0 - 0.5) * a) - view.y0) / (view.y1 - view.y0) * h
    if abs(a - 1) * max(w, h) < 0.02 and abs(cx) < 0.02 and abs(cy) < 0.02:
        return planes

    pad = int(abs(1 - a) * max(w, h) + abs(cx) + abs(cy)) + 2

    def scale(p: F32, k: float) -> F32:
        ph, pw = p.shape
        src = Image.fromarray(np.pad(p, pad, mode="edge"), "F")
        box = (pad + cx * k, pad + cy * k, pad + cx * k + pw * a, pad + cy * k + ph * a)
        return np.asarray(src.resize((pw, ph), Image.Resampling.BILINEAR, box=box), np.float32)

    return Planes(scale(planes.y, 1.0), scale(planes.cb, 0.5), scale(planes.cr, 0.5))


def _spectrum(a: F32) -> C64:
    """rfft2 of a float32 image (complex64 with numpy >= 2)."""
    return np.fft.rfft2(a).astype(np.complex64, copy=False)


def _acc(acc: C64, spec: C64, otf: F32 | None) -> None:
    if otf is None:
        acc += spec
    else:
        acc += np.multiply(spec, otf)


class Renderer:
    """Noise-free live-view frames of one scene, for any view, position and f-number."""

    def __init__(self, scene: SceneData, view_cache: int = 3, frame_cache: int = 8) -> None:
        self.scene = scene
        self._views: OrderedDict[tuple[object, ...], _ViewModel] = OrderedDict()
        self._frames: OrderedDict[tuple[object, ...], Planes] = OrderedDict()
        self._view_cache = view_cache
        self._frame_cache = frame_cache

    def model(self, view: View) -> _ViewModel:
        vm = self._views.get(view.key)
        if vm is None:
            rate_per_n = view_rate(self.scene, view, 1.0)
            vm = _ViewModel(self.scene, view, rate_per_n)
            self._views[view.key] = vm
            if len(self._views) > self._view_cache:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(view.key)
        return vm

    def magnification(self, position: float) -> float:
        """Focus breathing: relative image scale at ``position`` (1 at mid travel)."""
        b = self.scene.spec.optics.breathing
        return 1.0 + b * (position / self.scene.spec.motor.range - 0.5)

    def render(self, view: View, position: float, f_number: float) -> Planes:
        key = (view.key, round(position * 1000), f_number)
        planes = self._frames.get(key)
        if planes is None:
            planes = self.model(view).render(position, f_number)
            m = self.magnification(position)
            if m != 1.0:
                planes = breathe(planes, view, m)
            self._frames[key] = planes
            if len(self._frames) > self._frame_cache:
                self._frames.popitem(last=False)
        return planes

    def sharp_luma(self, view: View) -> F32:
        return self.model(view).luma_sharp

    def focus_map(self, view: View) -> F32:
        return self.model(view).focus_sharp
