"""From a frame (header + JPEG) to what a focus search observes.  No IO.

The region of interest is given in fractions of the *full* live view.  When the camera
shows a magnified view (``zoom`` 5 or 10 around ``zoom_center``), the same region is
found in the magnified frame by :func:`roi_in_view`, clipped to what the frame shows.

Errors: :func:`observe` raises ``ValueError`` for an undecodable JPEG or a region that
falls outside the magnified view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller import measures
from controller.decode import Roi, roi_gray, roi_gray_reference
from controller.search._types import Observation


def view_window(zoom: int, center: Sequence[float]) -> Roi:
    """The part of the full view a magnified frame shows, as fractions (x, y, w, h)."""
    if zoom <= 1:
        return (0.0, 0.0, 1.0, 1.0)
    span = 1.0 / zoom
    x0 = min(max(float(center[0]) - span / 2, 0.0), 1.0 - span)
    y0 = min(max(float(center[1]) - span / 2, 0.0), 1.0 - span)
    return (x0, y0, span, span)


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


def measure_region(
    jpeg: bytes,
    roi: Sequence[float],
    *,
    zoom: int = 1,
    center: Sequence[float] = (0.5, 0.5),
    scale: int = 1,
    measure: str = measures.DEFAULT,
    reference: bool = False,
) -> float:
    """The focus measure of ``roi`` (full-view fractions) in a frame shown at ``zoom``.

    Decodes only the region, at DCT ``scale`` (``reference``: every pixel in colour, then
    shrunk, as benchmarks compare against).  Raises ``ValueError`` (bad JPEG, region not
    visible) or ``KeyError`` (unknown measure).
    """
    m = measures.get(measure)
    if m.jpeg is not None:
        return m.jpeg(jpeg)
    assert m.pixels is not None
    decode = roi_gray_reference if reference else roi_gray
    return m.pixels(decode(jpeg, roi_in_view(roi, zoom, center), scale=scale))


def observe(
    header: Mapping[str, Any],
    jpeg: bytes,
    roi: Sequence[float],
    *,
    scale: int = 1,
    measure: str = measures.DEFAULT,
    reference: bool = False,
) -> Observation:
    """Score a frame's region at ``scale`` and wrap it with the header's move bookkeeping."""
    value = measure_region(
        jpeg,
        roi,
        zoom=int(header.get("zoom", 1)),
        center=header.get("zoom_center", (0.5, 0.5)),
        scale=scale,
        measure=measure,
        reference=reference,
    )
    return Observation.from_header(header, value, scale)
