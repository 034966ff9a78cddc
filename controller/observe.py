"""From a frame (header + JPEG) to what a focus search observes.  No IO.

The region of interest is given in fractions of the *full* live view.  When the camera
shows a magnified view (``zoom`` 5 or 10 around ``zoom_center``), the same region is
found in the magnified frame by :func:`roi_in_view`, clipped to what the frame shows.

Errors: :func:`observe` raises ``ValueError`` for an undecodable JPEG or a region that
falls outside the magnified view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from controller import measures
from controller.decode import Roi, roi_gray, roi_gray_reference
from controller.search._types import Observation, view_window

__all__ = ["Scored", "observe", "roi_in_view", "score_region", "view_window"]


class Scored(NamedTuple):
    """A region's focus measure, its tile energies (() if none asked for) and its coarse
    measure (None if none asked for, or the measure reads the JPEG, not pixels)."""

    value: float
    tiles: tuple[float, ...]
    coarse: float | None = None


def roi_in_view(roi: Sequence[float], zoom: int, center: Sequence[float]) -> Roi:
    """``roi`` (fractions of the full view) in the coordinates of the frame at ``zoom``.

    Clipped to the frame; raises ``ValueError`` when nothing of it is visible.
    """
    wx, wy, ww, wh = view_window(zoom, center)
    x0 = (roi[0] - wx) / ww
    y0 = (roi[1] - wy) / wh
    x1 = (roi[0] + roi[2] - wx) / ww
    y1 = (roi[1] + roi[3] - wy) / wh
    x0, y0 = max(0.0, x0), max(0.0, y0)
    x1, y1 = min(1.0, x1), min(1.0, y1)
    if x1 - x0 <= 1e-6 or y1 - y0 <= 1e-6:
        raise ValueError("the region is outside the magnified view")
    return (x0, y0, x1 - x0, y1 - y0)


def score_region(
    jpeg: bytes,
    roi: Sequence[float],
    *,
    zoom: int = 1,
    center: Sequence[float] = (0.5, 0.5),
    scale: int = 1,
    measure: str = measures.DEFAULT,
    reference: bool = False,
    tiles: int = 0,
    coarse: int = 0,
) -> Scored:
    """The focus measure of ``roi`` (full-view fractions) in a frame shown at ``zoom``, and
    with ``tiles`` = n the region's n x n tile energies (:func:`controller.measures.tile_energy`)
    from the same decode; () for 0.  With ``coarse`` = k > 1, the measure of that decode
    shrunk k times by block means too (:func:`controller.measures.block_mean`).

    Decodes only the region, at DCT ``scale`` (``reference``: every pixel in colour, then
    shrunk, as benchmarks compare against).  Raises ``ValueError`` (bad JPEG, region not
    visible, too small for n x n tiles) or ``KeyError`` (unknown measure).
    """
    m = measures.get(measure)
    gray = None
    if m.pixels is not None or tiles:
        decode = roi_gray_reference if reference else roi_gray
        gray = decode(jpeg, roi_in_view(roi, zoom, center), scale=scale)
    if m.jpeg is not None:
        value = m.jpeg(jpeg)
    else:
        assert m.pixels is not None and gray is not None
        value = m.pixels(gray)
    low = None
    if coarse > 1 and m.pixels is not None and gray is not None:
        low = m.pixels(measures.block_mean(gray, coarse))
    if not tiles:
        return Scored(value, (), low)
    assert gray is not None
    return Scored(value, tuple(measures.tile_energy(gray, tiles).tolist()), low)


def observe(
    header: Mapping[str, Any],
    jpeg: bytes,
    roi: Sequence[float],
    *,
    scale: int = 1,
    measure: str = measures.DEFAULT,
    reference: bool = False,
    tiles: int = 0,
    coarse: int = 0,
) -> Observation:
    """Score a frame's region at ``scale`` (and its ``tiles`` x ``tiles`` tiles, and its
    ``coarse`` measure, if asked) and wrap it with the header's move bookkeeping."""
    value, energies, low = score_region(
        jpeg,
        roi,
        zoom=int(header.get("zoom", 1)),
        center=header.get("zoom_center", (0.5, 0.5)),
        scale=scale,
        measure=measure,
        reference=reference,
        tiles=tiles,
        coarse=coarse,
    )
    return Observation.from_header(header, value, scale, energies, low)
