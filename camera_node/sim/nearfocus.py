"""Pixels near focus in a continuous-depth scene, each blurred by its own depth.

Depth layers are costly, so a depth map is cut into at most 8 of them (views.py), and a
pixel between two layers is drawn as a blend of the image blurred for each.  Far from focus
that is close to the truth, but near focus it is not: a part of the scene comes into focus
only when the motor reaches a layer, up to half a spacing from where its depth says.  On
``moto`` the layers of a 1x view lie 74 motor steps apart (8.9 px of blur), against an
autofocus tolerance of 2.7 steps; with the 16 layers used before, 35 steps at 1x and 27-34
at 5x.

This stage corrects the pixels that need it.  For a view it keeps the sharp luminance
blurred by the disk at a ladder of diameters (0 to 4 px in 0.5 px steps, then 25 % apart,
up to ``reach``: three layer spacings).  At motor position p, a pixel whose own blur
``|p - f| * rate`` is below ``reach`` takes the ladder's value at that blur (linear between
rungs), so it is sharpest exactly at its own f; in the last third of ``reach`` it fades
into the layered value.  Pixels are kept sorted by f, so a frame touches only those within
``reach`` of focus.

What it leaves out: a gather uses each pixel's own blur, so at a depth edge an in-focus
pixel does not receive the spill of a blurred object in front of it (the layers still draw
that spill for every pixel beyond ``reach``).  Chroma stays layered.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from camera_node.sim.optics import DiskOTF

F32 = NDArray[np.float32]

FINE_STEP_PX = 0.5
FINE_TOP_PX = 4.0
RATIO = 1.25
REACH_SPACINGS = 3.0
MAX_REACH_PX = 128.0
BINS_PER_PX = 64  # blur quantum of the weight table: 1/64 px
FADE_SHARE_INV = 3.0  # the fade into the layered value spans the last third of reach


def ladder(reach_px: float) -> NDArray[np.float64]:
    """Blur diameters of the rungs: 0, 0.5, .. 4, then x1.25 until one is >= ``reach_px``."""
    fine = np.arange(0.0, FINE_TOP_PX + 1e-9, FINE_STEP_PX)
    n_geo = max(0, math.ceil(math.log(max(reach_px, FINE_TOP_PX) / FINE_TOP_PX) / math.log(RATIO)))
    geo = FINE_TOP_PX * RATIO ** np.arange(1, n_geo + 1)
    return np.concatenate((fine, geo))


def weights_table(rungs: NDArray[np.float64], reach_px: float) -> tuple[NDArray[np.intp], F32, F32]:
    """For blur diameters d = (q + 0.5) / BINS_PER_PX below ``reach_px``: the rung at or below
    d, and the weights of that rung and the next (linear between them, times the fade)."""
    d = (np.arange(math.ceil(reach_px * BINS_PER_PX)) + 0.5) / BINS_PER_PX
    lo = np.clip(np.searchsorted(rungs, d, side="right") - 1, 0, rungs.size - 2)
    frac = (d - rungs[lo]) / (rungs[lo + 1] - rungs[lo])
    fade = np.clip((reach_px - d) * (FADE_SHARE_INV / reach_px), 0.0, 1.0)
    return lo.astype(np.intp), ((1.0 - frac) * fade).astype(np.float32), (frac * fade).astype(np.float32)


def _float32_ceil(keys: tuple[float, ...]) -> F32:
    """The smallest float32 >= each key: a float32 value is below it exactly when it is below
    the key, so searching float32 data for it finds the same index, without numpy first
    converting the whole (float32) array to float64 to compare it with float64 keys."""
    k64 = np.array(keys, np.float64)
    k32 = k64.astype(np.float32)
    up = k32 < k64
    k32[up] = np.nextafter(k32[up], np.float32(np.inf))
    return k32


class NearFocus:
    """The ladder of one view: one plane per rung, its pixels in order of in-focus position."""

    def __init__(
        self, luma: F32, focus: F32, margin: int, out_shape: tuple[int, int], spacing_px: float
    ) -> None:
        """``luma`` and ``focus``: the view's sharp luminance and focus map with ``margin``;
        ``spacing_px``: blur between neighbouring layers at the view's nominal rate."""
        self.reach_px = min(MAX_REACH_PX, max(FINE_TOP_PX, REACH_SPACINGS * spacing_px))
        self.rungs = ladder(self.reach_px)
        self.lo, self.w0, self.w1 = weights_table(self.rungs, self.reach_px)
        h, w = out_shape
        f = focus[margin : margin + h, margin : margin + w].ravel()
        self.order = np.argsort(f, kind="stable").astype(np.intp)
        self.f_sorted = f[self.order].astype(np.float32)
        spec = np.fft.rfft2(luma)
        otf = DiskOTF(luma.shape, cache_size=1)
        k = self.rungs.size
        n = h * w
        # (rung, pixel in f order): pixels next to each other in f order have nearly the same
        # blur, so the pixels a frame takes from one pair of rungs are contiguous slices.
        stack = np.empty((k, n), np.float32)
        for i, d in enumerate(self.rungs):
            h_d = otf(float(d))
            img = luma if h_d is None else np.fft.irfft2(spec * h_d, s=luma.shape)
            stack[i] = img[margin : margin + h, margin : margin + w].ravel()[self.order]
        self.stack: F32 = stack
        # First blur bin of each rung as the lower rung (lo is non-decreasing in the bin).
        self.rung_bins = np.searchsorted(self.lo, np.arange(k - 1)).astype(np.intp)
        # Blur bins whose fade is exactly 1 (no layered share), less one bin of rounding margin.
        faded = np.flatnonzero(self.w0 + self.w1 < np.float32(1.0) - np.float32(1e-6))
        self.inner_bins = max(0, (int(faded[0]) if faded.size else self.lo.size) - 1)

    def apply(self, out: F32, position: float, rate: float) -> int:
        """Replace, in ``out`` (the layered luminance, view-sized, contiguous), the pixels
        within reach of focus at ``position`` (``rate``: px of blur per motor unit).  Returns
        how many.

        Within the inner part of the reach (fade 1) the layered value is not read: its share
        there is 1 - w0 - w1, which is float rounding (below 1e-6 of a level per level).
        """
        if not rate > 0:
            return 0
        r, r1 = self.reach_px / rate, self.inner_bins / (rate * BINS_PER_PX)  # motor units
        keys = _float32_ceil((position - r, position - r1, position + r1, position + r))
        a, a1, b1, b = (int(j) for j in np.searchsorted(self.f_sorted, keys))
        if b <= a:
            return 0
        p32 = np.float32(position)
        d = np.subtract(self.f_sorted[a:b], p32)
        np.abs(d, out=d)
        d *= np.float32(rate * BINS_PER_PX)
        np.minimum(d, np.float32(self.lo.size - 1), out=d)  # as min(int(d), size - 1)
        q = d.astype(np.intp)
        w0, w1 = np.take(self.w0, q), np.take(self.w1, q)  # take: faster than w0[q]
        # Each run of pixels on one pair of rungs reads a contiguous slice of both planes.
        g = np.empty(b - a, np.float32)
        s1 = np.empty(b - a, np.float32)
        split = int(np.searchsorted(self.f_sorted[a:b], p32))  # f < position before it
        for j0, j1, rung in self._rung_runs(q, split):
            np.multiply(self.stack[rung, a + j0 : a + j1], w0[j0:j1], out=g[j0:j1])
            np.multiply(self.stack[rung + 1, a + j0 : a + j1], w1[j0:j1], out=s1[j0:j1])
        g += s1
        pix = self.order[a:b]
        flat = out.reshape(-1)
        for j0, j1 in ((0, a1 - a), (b1 - a, b - a)):  # the fade zones: the layered value's share
            if j1 > j0:
                share = np.float32(1.0) - w0[j0:j1] - w1[j0:j1]
                g[j0:j1] += np.take(flat, pix[j0:j1]) * share
        flat[pix] = g
        return b - a

    def _rung_runs(self, q: NDArray[np.intp], split: int) -> list[tuple[int, int, int]]:
        """(start, stop, lower rung) of the runs of ``q`` (blur bins of pixels in f order) on
        one lower rung: ``q`` falls up to ``split`` (f below focus) and rises after it."""
        runs: list[tuple[int, int, int]] = []
        below, above = q[:split], q[split:]
        # Below focus: the pixels of rung r are those with rung_bins[r] <= q < rung_bins[r + 1],
        # a run that ends where q drops below rung_bins[r].
        ends = (split - np.searchsorted(below[::-1], self.rung_bins)).tolist()
        for r in range(len(ends) - 1, -1, -1):
            start = ends[r + 1] if r + 1 < len(ends) else 0
            if ends[r] > start:
                runs.append((start, ends[r], r))
        starts = (split + np.searchsorted(above, self.rung_bins)).tolist()
        for r, start in enumerate(starts):
            stop = starts[r + 1] if r + 1 < len(starts) else q.size
            if stop > start:
                runs.append((start, stop, r))
        return runs
