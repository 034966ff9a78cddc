"""Finding the region of interest in a magnified live view."""

from __future__ import annotations

import numpy as np
import pytest

from controller import measures
from controller.decode import roi_gray
from controller.observe import observe, roi_in_view, score_region, view_window
from tests.controller.test_decode import _jpeg


@pytest.mark.parametrize(
    ("zoom", "center", "window"),
    [
        (1, (0.5, 0.5), (0.0, 0.0, 1.0, 1.0)),
        (5, (0.5, 0.5), (0.4, 0.4, 0.2, 0.2)),
        (10, (0.5, 0.5), (0.45, 0.45, 0.1, 0.1)),
        (5, (0.0, 1.0), (0.0, 0.8, 0.2, 0.2)),  # clamped at the edges as the camera does
    ],
)
def test_view_window(zoom: int, center: tuple[float, float], window: tuple[float, ...]) -> None:
    assert view_window(zoom, center) == pytest.approx(window)


@pytest.mark.parametrize(
    ("roi", "zoom", "center", "expected"),
    [
        ((0.4, 0.4, 0.2, 0.2), 1, (0.5, 0.5), (0.4, 0.4, 0.2, 0.2)),
        ((0.45, 0.45, 0.1, 0.1), 5, (0.5, 0.5), (0.25, 0.25, 0.5, 0.5)),
        ((0.3, 0.3, 0.4, 0.4), 5, (0.5, 0.5), (0.0, 0.0, 1.0, 1.0)),  # larger than the view: all of it
        ((0.4, 0.4, 0.2, 0.2), 10, (0.6, 0.6), (0.0, 0.0, 0.5, 0.5)),
    ],
)
def test_roi_in_view(
    roi: tuple[float, ...], zoom: int, center: tuple[float, float], expected: tuple[float, ...]
) -> None:
    assert roi_in_view(roi, zoom, center) == pytest.approx(expected)


def test_roi_outside_the_magnified_view() -> None:
    with pytest.raises(ValueError, match="outside"):
        roi_in_view((0.0, 0.0, 0.1, 0.1), 10, (0.9, 0.9))


def test_score_region_gives_tiles_from_the_same_decode() -> None:
    jpeg = _jpeg()
    roi = (0.1, 0.2, 0.5, 0.4)
    value, tiles, low = score_region(jpeg, roi, scale=2, tiles=4)
    assert low is None  # no coarse measure asked for
    assert len(tiles) == 16 and all(t >= 0 for t in tiles)
    assert sum(tiles) == pytest.approx(value, rel=1e-9)  # tenengrad_n: the tiles sum to it
    assert score_region(jpeg, roi, scale=2) == (value, (), None)
    # the JPEG-size measure needs no pixels, but tiles do
    size, tiles, low = score_region(jpeg, roi, scale=2, measure="jpeg_size", tiles=2, coarse=4)
    assert size == float(len(jpeg)) and len(tiles) == 4 and low is None  # no pixels to shrink
    header = {"seq": 1, "t": 0.5, "move_id": 2, "settled": True, "zoom": 1}
    o = observe(header, jpeg, roi, scale=2, tiles=4)
    assert o.measure == pytest.approx(value) and o.tiles == pytest.approx(
        score_region(jpeg, roi, scale=2, tiles=4)[1]
    )
    whole = measures.get(measures.DEFAULT).pixels
    assert whole is not None and measures.DEFAULT == "tenengrad_n"  # why the tiles sum to it


@pytest.mark.parametrize(
    ("zoom", "scale", "center", "series"),
    [
        (1, 8, None, "1x 1/8"),
        (1, 1, [0.5, 0.5], "1x 1/1"),  # at 1x the centre says nothing
        (5, 4, [0.4234, 0.61], "5x 1/4 @0.42,0.61"),
        (5, 4, None, "5x 1/4"),
    ],
)
def test_sample_series_names_view_and_scale(zoom: int, scale: int, center: object, series: str) -> None:
    from controller.runner import sample_series
    from controller.search import Observation

    assert sample_series(Observation(0, 0.0, 0, True, zoom, 1.0, scale), center) == series


def test_score_region_gives_a_coarse_measure_from_the_same_decode() -> None:
    """``coarse`` = k: the measure of the decode shrunk k times by block means, which is
    the measure of a decode k times coarser, near enough (here within 1 %)."""
    jpeg = _jpeg()
    roi = (0.1, 0.2, 0.5, 0.4)
    value, _, low = score_region(jpeg, roi, scale=1, coarse=4)
    m = measures.get(measures.DEFAULT).pixels
    assert m is not None and low is not None
    gray = roi_gray(jpeg, roi_in_view(roi, 1, (0.5, 0.5)), scale=1)
    assert low == pytest.approx(m(measures.block_mean(gray, 4)))
    assert low == pytest.approx(score_region(jpeg, roi, scale=4).value, rel=0.01)
    assert low != pytest.approx(value, rel=0.5)  # the checkerboard's edges lie 4 times closer
    header = {"seq": 1, "t": 0.5, "move_id": 2, "settled": True, "zoom": 1}
    assert observe(header, jpeg, roi, scale=1, coarse=4).coarse == pytest.approx(low)


def test_block_mean_shrinks_by_blocks_and_drops_the_rest() -> None:
    a = np.arange(30, dtype=np.uint8).reshape(5, 6)
    b = measures.block_mean(a, 2)
    assert b.shape == (2, 3)
    assert b[0, 0] == pytest.approx((0 + 1 + 6 + 7) / 4)
    assert measures.block_mean(a, 1).shape == (5, 6)
    assert measures.block_mean(a, 8).shape == (5, 6)  # under one block: as it is
