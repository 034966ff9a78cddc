"""Rendering a live-view frame: layered pillbox blur in the frequency domain.

For each view (zoom and centre) the renderer precomputes, once, the spectra of every depth
layer's luminance, chroma and weight.  A frame at motor position p then costs one
multiply-add per layer with the disk's transfer function for that layer's blur diameter,
and one inverse FFT per channel: luminance at full resolution, chroma and the layer
weights (which normalise occlusion edges) at half resolution, as a JPEG stores chroma.
The multiply-add only covers the low-pass block where the disk's transfer function is
non-negligible (see :class:`_Grid`), so blurred layers are cheap.
Finished frames are cached by position, so a still motor costs nothing to re-render.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from camera_node.sim import native
from camera_node.sim.nearfocus import NearFocus
from camera_node.sim.optics import LUT_STEP, DiskOTF, View, airy_lut, freq_radius
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
    y: C64  # luminance x weight, full resolution
    half: C64 | None  # (k, h, w') at half resolution: [Cb x weight, Cr x weight][, weight]


class _ViewModel:
    def __init__(self, scene: SceneData, view: View, rate_per_n: float) -> None:
        self.view = view
        self.rate_per_n = rate_per_n  # px per motor unit, times the f-number
        vi = sample_view(scene, view, MARGIN)
        self.full_shape = vi.luma.shape
        self.half_shape = (vi.luma.shape[0] // 2, vi.luma.shape[1] // 2)
        # A grey scene (R = G = B everywhere) has no chroma: it is not rendered, it is 0.
        rgb = vi.rgb
        self.grey = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
        cb, cr = to_ycc(vi.rgb)
        cb_h, cr_h = half(cb), half(cr)
        nominal_rate = rate_per_n / scene.spec.optics.f_number
        layers, spacing = layers_for(vi, nominal_rate)
        self.single = len(layers) == 1
        self.layers: list[_Layer] = []
        for focus, wgt in layers:
            w_h = half(wgt)
            planes = ([] if self.grey else [cb_h * w_h, cr_h * w_h]) + ([] if self.single else [w_h])
            half_spec = _spectrum(np.stack(planes)) if planes else None
            self.layers.append(_Layer(focus, _spectrum(vi.luma * wgt), half_spec))
        mh = MARGIN // 2
        self.acc_full = _Accumulator(_Grid(self.full_shape), (), (MARGIN, MARGIN + view.height))
        n_half = (0 if self.grey else 2) + (0 if self.single else 1)
        half_rows = (mh, mh + view.height // 2)
        self.acc_half = _Accumulator(_Grid(self.half_shape), (n_half,), half_rows) if n_half else None
        self.grid_full = self.acc_full.grid
        hh, hw = view.height // 2, view.width // 2
        self._zero_chroma = np.zeros((hh, hw), np.float32)
        self._zero_chroma.setflags(write=False)
        self.focus_sharp = vi.focus[MARGIN : MARGIN + view.height, MARGIN : MARGIN + view.width]
        self.luma_sharp = vi.luma[MARGIN : MARGIN + view.height, MARGIN : MARGIN + view.width]
        # A continuous depth map: the pixels near focus are redrawn at their own depth.
        self.near = (
            NearFocus(vi.luma, vi.focus, MARGIN, (view.height, view.width), spacing * nominal_rate)
            if spacing > 0
            else None
        )

    def render(self, position: float, f_number: float) -> Planes:
        planes = self.render_layers(position, f_number)
        if self.near is not None:
            self.near.apply(planes.y, position, self.rate_per_n / f_number)
        return planes

    def render_layers(self, position: float, f_number: float) -> Planes:
        """The frame from the depth layers alone."""
        rate = self.rate_per_n / f_number
        diameters = [abs(position - layer.focus) * rate for layer in self.layers]
        v, m = self.view, MARGIN
        mh = m // 2
        hh, hw = v.height // 2, v.width // 2
        y_rows = self.acc_full.render([layer.y for layer in self.layers], diameters)
        y = y_rows[:, m : m + v.width]
        if self.acc_half is None:
            return Planes(y, self._zero_chroma, self._zero_chroma)
        halves = [layer.half for layer in self.layers if layer.half is not None]
        half_rows = self.acc_half.render(halves, [d / 2 for d in diameters])
        half = half_rows[..., mh : mh + hw]
        cb, cr = (self._zero_chroma, self._zero_chroma) if self.grey else (half[0], half[1])
        if self.single:
            return Planes(y, cb, cr)
        compiled = native.module()
        if compiled is not None:
            out = np.empty((v.height, v.width), np.float32)
            if self.grey:
                compiled.normalise(y_rows, m, half_rows, mh, out, None, None, True)
                return Planes(out, cb, cr)
            cb, cr = np.empty((hh, hw), np.float32), np.empty((hh, hw), np.float32)
            compiled.normalise(y_rows, m, half_rows, mh, out, cb, cr, False)
            return Planes(out, cb, cr)
        inv_w = np.clip(half[-1], 1e-3, np.inf)  # max(w, 1e-3), faster than np.maximum
        np.divide(np.float32(1.0), inv_w, out=inv_w)
        if not self.grey:
            cb = cb * inv_w
            cr = cr * inv_w
        # Luminance / weight, the weight upsampled 2x2: repeated along rows (two equal float32
        # side by side are one uint64, v * (2^32 + 1)), then broadcast over row pairs, so every
        # inner loop is contiguous.
        out = np.empty((v.height, v.width), np.float32)
        inv_x2 = np.empty((hh, 2 * hw), np.float32)
        np.multiply(inv_w.view(np.uint32), np.uint64(0x1_0000_0001), out=inv_x2.view(np.uint64))
        if v.width > 2 * hw:
            inv_x2 = np.concatenate((inv_x2, inv_x2[:, -1:]), axis=1)
        np.multiply(
            y[: 2 * hh].reshape(hh, 2, v.width), inv_x2[:, None, :], out=out[: 2 * hh].reshape(hh, 2, v.width)
        )
        if v.height > 2 * hh:
            np.multiply(y[2 * hh :], inv_x2[-1:], out=out[2 * hh :])
        return Planes(out, cb, cr)


class _Accumulator:
    """The blurred sum of a view's layers on one grid, and its inverse FFT on the rows kept.

    The inverse FFT is a column transform then a row transform, each 1-D transform on its
    own; the result is bit for bit that of ``irfft2``.  When every layer is blurred enough
    that its block ends before column k, only k columns are transformed in the first step
    (the others are zero), and the row transform is only run on ``rows`` (the frame without
    its top and bottom margins).
    """

    def __init__(self, grid: _Grid, planes: tuple[int, ...], rows: tuple[int, int]) -> None:
        self.grid = grid
        self.rows = rows
        self.spec = np.zeros((*planes, *grid.spec_shape), np.complex64)
        self._cols = np.zeros_like(self.spec)  # the column transforms
        self._cols_used = grid.spec_shape[1]  # columns of _cols written by the last frame

    def render(self, spectra: list[C64], diameters: list[float]) -> F32:
        """Rows ``rows`` (all columns) of the inverse FFT of the blurred sum."""
        grid, wr = self.grid, self.grid.spec_shape[1]
        # Each layer's block (rows of +fy, columns); a layer under the quantum keeps every column.
        extents = [(grid.pos_rows, wr) if d < DiskOTF.QUANTUM else grid.extent(d) for d in diameters]
        width = max(kx for _, kx in extents)
        # The sharpest layer first: its block, the largest, is written rather than added to
        # (no read of the sum, no temporary), and the rest add onto smaller blocks.
        order = sorted(range(len(diameters)), key=diameters.__getitem__)
        compiled = native.module()
        if compiled is not None:
            compiled.layer_sum(
                self.spec,
                [spectra[k] for k in order],
                [diameters[k] for k in order],
                [extents[k] for k in order],
                grid.bins16,
                grid.centres,
                grid.lut,
                (self.spec.size // (grid.spec_shape[0] * wr), *grid.spec_shape),
                width,
                grid.neg_rows,
                math.pi,
                grid.X_CUT,
                1.0 / LUT_STEP,
                DiskOTF.QUANTUM,
            )
        else:
            for i, k in enumerate(order):
                _mac(self.spec, spectra[k], grid, diameters[k], first=i == 0, width=width)
        if self._cols_used > width:
            self._cols[..., width : self._cols_used] = 0
        self._cols_used = width
        np.fft.ifft(self.spec[..., :width], axis=-2, out=self._cols[..., :width])
        r0, r1 = self.rows
        out = np.fft.irfft(self._cols[..., r0:r1, :], n=grid.shape[1], axis=-1)
        return out.astype(np.float32, copy=False)


class _Grid:
    """One rfft2 grid: radial-frequency bins, and the disk's transfer function on a low-pass block.

    A disk of diameter d has H(rho) = 2 J1(x) / x with x = pi d rho, whose sidelobes fall as
    x^-1.5.  Beyond the 8th zero of J1 (x = 25.90, |H| < 1.2 %) the spectrum is dropped, so a
    frame touches only the block |fx|, |fy| < 25.90 / (pi d) of a layer's spectrum: a layer
    blurred by 20 px costs a sixth of a sharp one.  The cut lies on a zero of H (no ringing
    step) and leaves H near 0 untouched, so the blur's width (its second moment) and linear
    growth are exactly those of the disk; only the disk's rim is a little less crisp.

    H depends on |fy|, so it is gathered for the rows of non-negative fy only (rows 0 .. h//2
    of the rfft2 grid, |fy| increasing) and the rows of negative fy reuse them mirrored.
    """

    BINS = 4096
    X_CUT = 25.9037  # 8th zero of J1

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = shape
        rho = freq_radius(shape)
        self.spec_shape = rho.shape
        rmax = float(rho.max()) or 1.0
        self.bins = np.minimum((rho / rmax * (self.BINS - 1) + 0.5).astype(np.intp), self.BINS - 1)
        # The rows of non-negative fy as 16-bit bins, for the compiled layer sum (native.py).
        self.bins16 = np.ascontiguousarray(self.bins[: shape[0] // 2 + 1], np.uint16)
        self.centres = (np.arange(self.BINS) * (rmax / (self.BINS - 1))).astype(np.float32)
        self.lut = airy_lut()
        self.pos_rows = shape[0] // 2 + 1  # rows 0 .. h//2: |fy| = 0 .. 1/2
        self.neg_rows = (shape[0] - 1) // 2  # rows h - j (j = 1 .. neg_rows) mirror row j

    def extent(self, diameter_px: float) -> tuple[int, int]:
        """Rows of non-negative fy, and columns, of the block where H is kept for ``diameter_px``."""
        rc = self.X_CUT / (math.pi * diameter_px)  # cycles per pixel
        ky = min(self.pos_rows, math.ceil(rc * self.shape[0]) + 1)
        kx = min(self.spec_shape[1], math.ceil(rc * self.shape[1]) + 1)
        return ky, kx

    def otf(self, diameter_px: float, ky: int, kx: int) -> F32:
        """H on rows 0 .. ky-1, columns 0 .. kx-1, zero beyond the cut; each value twice in a row.

        The result is (ky, 2 kx) float32, to multiply a complex64 block viewed as float32 pairs
        (re, im), which costs less than numpy's complex-by-real product and gives the same bits.
        It is one gather from a table of 64-bit (H, H) pairs.
        """
        x = self.centres * np.float32(math.pi * diameter_px)
        # x rises with the bin: the bins beyond the cut are the last ones, and they stay 0.
        k = int(np.searchsorted(x, np.float32(self.X_CUT), side="right"))
        idx = np.minimum((x[:k] * np.float32(1.0 / LUT_STEP)).astype(np.int32), self.lut.size - 1)
        pairs = np.zeros(self.BINS, np.uint64)
        # Two equal float32 side by side are one uint64: v * (2^32 + 1).
        np.multiply(self.lut[idx].view(np.uint32), np.uint64(0x1_0000_0001), out=pairs[:k])
        out: F32 = np.take(pairs, self.bins[:ky, :kx]).view(np.float32)
        return out


def _mac(acc: C64, spec: C64, grid: _Grid, diameter_px: float, *, first: bool, width: int) -> None:
    """acc += spec * H(diameter) on the low-pass block (spec may carry leading plane axes).

    ``first`` writes acc instead (0 + x is x, so the result is the same as zeroing first), and
    zeroes the rest of acc up to column ``width``; columns beyond ``width`` are not read.
    """
    if diameter_px < DiskOTF.QUANTUM:
        if first:
            np.copyto(acc, spec)
        else:
            acc += spec
        return
    h = grid.shape[0]
    ky, kx = grid.extent(diameter_px)
    neg = min(ky - 1, grid.neg_rows)
    h_pos = grid.otf(diameter_px, ky, kx)
    if first:
        acc[..., ky : h - neg, :width] = 0
        acc[..., :ky, kx:width] = 0
        acc[..., h - neg :, kx:width] = 0
    acc_f, spec_f = acc.view(np.float32), spec.view(np.float32)
    for rows, otf in ((slice(0, ky), h_pos), (slice(h - neg, h), h_pos[neg:0:-1])):
        if rows.start == rows.stop:
            continue
        a = acc_f[..., rows, : 2 * kx]
        if first:
            np.multiply(spec_f[..., rows, : 2 * kx], otf, out=a)
        else:
            a += spec_f[..., rows, : 2 * kx] * otf


def breathe(planes: Planes, view: View, magnification: float) -> Planes:
    """Scale the frame about the optical axis (the sensor centre) by ``magnification``.

    Nearest-pixel resampling (block copies, ~0.3 ms): every output pixel takes the input pixel
    nearest to where the scaled image puts it, so the geometry is right to within half a pixel
    and the frame's sharpness, noise and blur are untouched.  Breathing moves content by at
    most a few pixels over the whole travel.
    """
    h, w = planes.y.shape
    a = 1.0 / magnification
    # Output pixel x sees sensor u = x0 + x / w * span; the scene there is 0.5 + (u - 0.5) / m.
    cx = ((0.5 + (view.x0 - 0.5) * a) - view.x0) / (view.x1 - view.x0) * w
    cy = ((0.5 + (view.y0 - 0.5) * a) - view.y0) / (view.y1 - view.y0) * h
    iy, ix = _nearest(h, cy, a), _nearest(w, cx, a)
    if iy is None and ix is None:
        return planes
    y = _gather(planes.y, _runs(h, iy), _runs(w, ix))
    # Chroma: one pair of maps for both planes, and one copy when they are one array (the
    # zero chroma of a grey scene).
    ch, cw = planes.cb.shape
    rows, cols = _runs(ch, _nearest(ch, cy * 0.5, a)), _runs(cw, _nearest(cw, cx * 0.5, a))
    cb = _gather(planes.cb, rows, cols)
    cr = cb if planes.cr is planes.cb else _gather(planes.cr, rows, cols)
    return Planes(y, cb, cr)


def _nearest(n: int, offset: float, a: float) -> NDArray[np.intp] | None:
    """Source index of each of ``n`` output pixels (centre j + 0.5 -> offset + (j + 0.5) * a)."""
    src: NDArray[np.intp] = np.floor(offset + (np.arange(n) + 0.5) * a).astype(np.intp)
    np.clip(src, 0, n - 1, out=src)
    if np.array_equal(src, np.arange(n)):
        return None
    return src


def _runs(n: int, idx: NDArray[np.intp] | None) -> list[tuple[int, int, int]]:
    """(start, stop, source start) of each run of consecutive source indices (``idx``: the
    source index of each of ``n`` pixels; None: the identity)."""
    if idx is None:
        return [(0, n, 0)]
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    edges = [0, *breaks.tolist(), idx.size]
    return [(j0, j1, int(idx[j0])) for j0, j1 in itertools.pairwise(edges)]


def _gather(p: F32, row_runs: list[tuple[int, int, int]], col_runs: list[tuple[int, int, int]]) -> F32:
    """p[rows][:, cols] for monotonic index maps given as runs (see :func:`_runs`), as one
    block copy per pair of runs.

    Breathing's maps are the identity with a few repeated or skipped pixels, so this is a few
    dozen rectangular copies instead of a gather per pixel; the result is the same.
    """
    out = np.empty((row_runs[-1][1], col_runs[-1][1]), p.dtype)
    for r0, r1, sr in row_runs:
        for c0, c1, sc in col_runs:
            out[r0:r1, c0:c1] = p[sr : sr + r1 - r0, sc : sc + c1 - c0]
    return out


def _spectrum(a: F32) -> C64:
    """rfft2 of a float32 image (complex64 with numpy >= 2)."""
    return np.fft.rfft2(a).astype(np.complex64, copy=False)


_builder: concurrent.futures.ThreadPoolExecutor | None = None
_builder_lock = threading.Lock()


def _build_thread() -> concurrent.futures.ThreadPoolExecutor:
    """The one background thread that builds views ahead of use (shared by every renderer)."""
    global _builder
    with _builder_lock:
        if _builder is None:
            _builder = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-view")
        return _builder


class Renderer:
    """Noise-free live-view frames of one scene, for any view, position and f-number.

    Not thread-safe: one caller.  :meth:`prepare` builds a view's model on a background
    thread (the camera's thread goes on meanwhile); :meth:`model` waits for it."""

    def __init__(self, scene: SceneData, view_cache: int = 3, frame_cache: int = 8) -> None:
        self.scene = scene
        self._views: OrderedDict[tuple[object, ...], _ViewModel] = OrderedDict()
        self._pending: dict[tuple[object, ...], concurrent.futures.Future[_ViewModel]] = {}
        self._frames: OrderedDict[tuple[object, ...], Planes] = OrderedDict()
        self._view_cache = view_cache
        self._frame_cache = frame_cache

    def prepare(self, view: View) -> None:
        """Start building ``view``'s model in the background, unless it is built or under way.
        The model is the same as :meth:`model` would build: only when it is built changes."""
        if view.key in self._views or view.key in self._pending:
            return
        for other in self._pending.values():  # only the latest view asked for is kept
            other.cancel()
        self._pending.clear()
        rate_per_n = view_rate(self.scene, view, 1.0)
        self._pending[view.key] = _build_thread().submit(_ViewModel, self.scene, view, rate_per_n)

    def ready(self, view: View) -> bool:
        """Whether ``view``'s model is built (a frame of it renders without setting it up)."""
        return view.key in self._views

    def model(self, view: View) -> _ViewModel:
        vm = self._views.get(view.key)
        if vm is None:
            pending = self._pending.pop(view.key, None)
            if pending is not None:
                vm = pending.result()
            else:
                vm = _ViewModel(self.scene, view, view_rate(self.scene, view, 1.0))
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
