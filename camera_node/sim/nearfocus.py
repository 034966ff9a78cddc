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

from camera_node.sim import native
from camera_node.sim.optics import DiskOTF

F32 = NDArray[np.float32]

FINE_STEP_PX = 0.5
FINE_TOP_PX = 4.0
RATIO = 1.25
REACH_SPACINGS = 3.0
MAX_REACH_PX = 128.0
FADE_SHARE_INV = 3.0  # the fade into the layered value spans the last third of reach
INNER_MARGIN_PX = 1.0 / 64  # the inner zone (fade exactly 1) ends this far inside the fade


def ladder(reach_px: float) -> NDArray[np.float64]:
    """Blur diameters of the rungs: 0, 0.5, .. 4, then x1.25 until one is >= ``reach_px``."""
    fine = np.arange(0.0, FINE_TOP_PX + 1e-9, FINE_STEP_PX)
    n_geo = max(0, math.ceil(math.log(max(reach_px, FINE_TOP_PX) / FINE_TOP_PX) / math.log(RATIO)))
    geo = FINE_TOP_PX * RATIO ** np.arange(1, n_geo + 1)
    return np.concatenate((fine, geo))


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
        # Between rungs r and r + 1 a pixel of blur d takes lo + (hi - lo) * frac with
        # frac = d * inv_gap[r] - offset[r] (float32 scalars, the same for every pixel).
        gaps = np.diff(self.rungs)
        self._inv_gap = (1.0 / gaps).astype(np.float32)
        self._offset = (self.rungs[:-1] / gaps).astype(np.float32)
        self._bounds = self.rungs[1:-1].astype(np.float32)  # where the pair of rungs changes
        self.inner_px = max(0.0, self.reach_px * (1.0 - 1.0 / FADE_SHARE_INV) - INNER_MARGIN_PX)
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

    def apply(self, out: F32, position: float, rate: float) -> int:
        """Replace, in ``out`` (the layered luminance, view-sized, contiguous), the pixels
        within reach of focus at ``position`` (``rate``: px of blur per motor unit).  Returns
        how many.

        A pixel of blur d between rungs r and r + 1 takes their values linearly in d (exactly:
        no table of blur bins).  In the fade, the last third of the reach, that value is
        mixed with the layered one by the factor ``clip((reach - d) * FADE_SHARE_INV / reach,
        0, 1)``; inside the fade the factor is 1 and the layered value is not read.
        """
        if not rate > 0:
            return 0
        r, r1 = self.reach_px / rate, self.inner_px / rate  # motor units
        keys = _float32_ceil((position - r, position - r1, position + r1, position + r))
        a, a1, b1, b = (int(j) for j in np.searchsorted(self.f_sorted, keys))
        if b <= a:
            return 0
        p32 = np.float32(position)
        compiled = native.module()
        if compiled is not None and out.flags.c_contiguous:
            split = a + int(np.searchsorted(self.f_sorted[a:b], p32))
            fade_scale = np.float32(FADE_SHARE_INV / self.reach_px)
            compiled.near_apply(
                out, self.f_sorted, self.order, self.stack, self._inv_gap, self._offset, self._bounds,
                a, a1, b1, b, split, p32, np.float32(rate), np.float32(self.reach_px), fade_scale,
            )  # fmt: skip
            return b - a
        d = np.subtract(self.f_sorted[a:b], p32)
        np.abs(d, out=d)
        d *= np.float32(rate)  # each pixel's own blur, px
        g = np.empty(b - a, np.float32)
        frac = np.empty(b - a, np.float32)
        split = int(np.searchsorted(self.f_sorted[a:b], p32))  # f < position before it
        # Each run of pixels on one pair of rungs reads a contiguous slice of both planes.
        for j0, j1, rung in self._rung_runs(d, split):
            lo, hi = self.stack[rung, a + j0 : a + j1], self.stack[rung + 1, a + j0 : a + j1]
            t, v = frac[j0:j1], g[j0:j1]
            np.multiply(d[j0:j1], self._inv_gap[rung], out=t)
            t -= self._offset[rung]
            np.subtract(hi, lo, out=v)
            v *= t
            v += lo
        pix = self.order[a:b]
        flat = out.reshape(-1)
        reach = np.float32(self.reach_px)
        for j0, j1 in ((0, a1 - a), (b1 - a, b - a)):  # the fade zones: layered + fade * (g - layered)
            if j1 > j0:
                fade = np.subtract(reach, d[j0:j1], out=frac[j0:j1])
                fade *= np.float32(FADE_SHARE_INV / self.reach_px)
                np.clip(fade, 0.0, 1.0, out=fade)
                layered = np.take(flat, pix[j0:j1])
                v = g[j0:j1]
                v -= layered
                v *= fade
                v += layered
        flat[pix] = g
        return b - a

    def _rung_runs(self, d: F32, split: int) -> list[tuple[int, int, int]]:
        """(start, stop, lower rung) of the runs of pixels on one pair of rungs: rung r holds
        the blurs rungs[r] <= d < rungs[r + 1] (the top pair also anything beyond).  ``d``
        (blurs of pixels in f order) falls up to ``split`` (f below focus) and rises after."""
        runs: list[tuple[int, int, int]] = []
        # Below focus: the pixels blurred less than a bound are the last ones.
        under = (split - np.searchsorted(d[:split][::-1], self._bounds)).tolist()
        edges = [0, *reversed(under), split]  # from the top rung down to rung 0
        top = len(under)
        for i in range(len(edges) - 1):
            if edges[i + 1] > edges[i]:
                runs.append((edges[i], edges[i + 1], top - i))
        # Above focus: the pixels blurred at least as much as a bound come after it.
        edges = [split, *(split + np.searchsorted(d[split:], self._bounds)).tolist(), d.size]
        for i in range(len(edges) - 1):
            if edges[i + 1] > edges[i]:
                runs.append((edges[i], edges[i + 1], i))
        return runs
