"""Where focus truly is: for tests and benchmarks only, never reachable through the facade.

- :func:`best_position`: for a region of interest, the median of the in-focus position f
  over the region, weighted by the sharp image's local gradient energy (what a contrast
  measure responds to), in the 1x live view.  :func:`best_position_at` samples the sharp
  image as a magnified view would, which shows how well that truth is defined.
- :func:`blur_px`: the blur-circle diameter, in pixels of a view, of that region's best
  focus at a motor position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from camera_node.sim.optics import View, blur_rate_px
from camera_node.sim.views import sample_view

if TYPE_CHECKING:
    from camera_node.sim.camera import SimCamera

Roi = tuple[float, float, float, float]


def _roi_slices(roi: Roi, shape: tuple[int, int]) -> tuple[slice, slice]:
    x, y, w, h = roi
    if not (0 <= x < 1 and 0 <= y < 1 and w > 0 and h > 0 and x + w <= 1 + 1e-9 and y + h <= 1 + 1e-9):
        raise ValueError(f"roi must be (x, y, w, h) fractions inside the view, not {roi}")
    hh, ww = shape
    x0, y0 = int(x * ww), int(y * hh)
    x1, y1 = max(x0 + 2, round((x + w) * ww)), max(y0 + 2, round((y + h) * hh))
    return slice(y0, min(y1, hh)), slice(x0, min(x1, ww))


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    v = values[order]
    c = np.cumsum(weights[order], dtype=np.float64)
    if c[-1] <= 0:
        return float(v[len(v) // 2])
    return float(v[np.searchsorted(c, c[-1] / 2)])


def _weighted_focus(luma: np.ndarray, focus: np.ndarray) -> float:
    """The median of ``focus`` weighted by the local gradient energy of ``luma``."""
    lum = luma.astype(np.float64)
    f = focus.astype(np.float64)
    gx = np.zeros_like(lum)
    gy = np.zeros_like(lum)
    gx[:, 1:-1] = lum[:, 2:] - lum[:, :-2]
    gy[1:-1, :] = lum[2:, :] - lum[:-2, :]
    energy = gx * gx + gy * gy
    # Local energy: a 3x3 box sum, so a pixel on either side of an edge counts.
    padded = np.pad(energy, 1)
    local = sum(
        padded[dy : dy + energy.shape[0], dx : dx + energy.shape[1]] for dy in range(3) for dx in range(3)
    )
    return weighted_median(f.ravel(), np.asarray(local).ravel())


def best_position(cam: SimCamera, roi: Roi = (0, 0, 1, 1), view: View | None = None) -> float:
    """Gradient-energy-weighted median of f over ``roi`` (fractions of ``view``, default 1x)."""
    view = view or cam.view_for(1, (0, 0))
    luma = cam.renderer.sharp_luma(view)
    focus = cam.renderer.focus_map(view)
    ys, xs = _roi_slices(roi, luma.shape)
    return _weighted_focus(luma[ys, xs], focus[ys, xs])


def best_position_at(cam: SimCamera, roi: Roi, zoom: int) -> float:
    """:func:`best_position` of ``roi`` (fractions of the 1x view) with the sharp image
    sampled as a ``zoom`` x magnified live view samples it, over the whole region (it may
    be wider than one magnified view).

    On one depth plane this equals :func:`best_position`.  Where a region spans depth, the
    weights change with the sampling (a finer image holds finer detail), and so may the
    median: how far tells how well the truth is defined at all.
    """
    _roi_slices(roi, (2, 2))  # the same check
    x, y, w, h = roi
    lw, lh = cam.spec.optics.liveview
    view = View("live", zoom, max(2, round(w * lw * zoom)), max(2, round(h * lh * zoom)), x, y, x + w, y + h)
    vi = sample_view(cam.scene, view, 1)
    inner = (slice(1, 1 + view.height), slice(1, 1 + view.width))
    return _weighted_focus(vi.luma[inner], vi.focus[inner])


def blur_px(
    cam: SimCamera, position: float | None = None, view: View | None = None, roi: Roi = (0, 0, 1, 1)
) -> float:
    """Blur diameter in pixels of ``view`` (default: the current view) at ``position``
    (default: the true position now), for the best focus of ``roi``."""
    view = view or cam.current_view()
    p = cam.true_position() if position is None else position
    best = best_position(cam, roi, view if view.kind == "live" else None)
    return abs(p - best) * blur_rate_px(cam.spec.optics, view, cam.f_number)
