"""controller.search.depth: tile peaks and the weighted median depth, on synthetic curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controller.search import depth

SCAN = [float(x) for x in np.arange(300.0, 501.0, 12.8)]


def _curve(at: float, weight: float, width: float = 15.0, floor: float = 0.02) -> list[float]:
    """A tile whose energy peaks at ``at`` (Gaussian in position, as a disk's blur gives
    near focus) over a floor of blurred detail."""
    return [weight * (floor + math.exp(-0.5 * ((x - at) / width) ** 2)) for x in SCAN]


def _tiles(*curves: list[float]) -> list[list[float]]:
    return [list(col) for col in zip(*curves, strict=True)]


# (tiles as (peak, weight), median, low, high) worked out from the weights
GOLDEN = [
    ([(400.0, 1.0)] * 4, 400.0, 400.0, 400.0),
    ([(350.0, 3.0), (450.0, 1.0)], 350.0, 350.0, 450.0),  # 3 of 4 parts of the weight near
    ([(350.0, 1.0), (450.0, 3.0)], 450.0, 350.0, 450.0),
    ([(330.0, 1.0), (400.0, 1.0), (470.0, 1.0)], 400.0, 330.0, 470.0),
    ([(350.0, 2.0), (420.0, 1.0), (470.0, 2.0)], 420.0, 350.0, 470.0),  # the middle part decides
]


@pytest.mark.parametrize(("parts", "median", "low", "high"), GOLDEN)
def test_weighted_median_of_tile_peaks(
    parts: list[tuple[float, float]], median: float, low: float, high: float
) -> None:
    peaks = depth.tile_peaks(SCAN, _tiles(*(_curve(at, w) for at, w in parts)))
    assert len(peaks) == len(parts)
    for p, (at, w) in zip(peaks, parts, strict=True):
        assert p.position == pytest.approx(at, abs=0.3)  # a Gaussian is a parabola in log
        assert p.weight == pytest.approx(w, rel=0.2)  # its best sample
    est = depth.estimate(peaks)
    assert est is not None
    assert est.median == pytest.approx(median, abs=0.3)
    assert est.low == pytest.approx(low, abs=0.3) and est.high == pytest.approx(high, abs=0.3)
    assert est.beyond_low == est.beyond_high == 0.0


def test_a_tile_still_rising_at_an_end_peaks_beyond_it() -> None:
    peaks = depth.tile_peaks(
        SCAN, _tiles(_curve(280.0, 2.0, width=25.0), _curve(400.0, 1.0), _curve(540.0, 1.0, width=25.0))
    )
    assert peaks[0].position == -math.inf and peaks[2].position == math.inf
    est = depth.estimate(peaks)
    assert est is not None
    total = sum(p.weight for p in peaks)
    assert est.beyond_low == peaks[0].weight / total and est.beyond_high == peaks[2].weight / total
    assert est.median == -math.inf  # more than half the weight still rises at the low end
    assert est.spread == math.inf


@pytest.mark.parametrize(
    ("at", "reach", "expect"),
    [
        (297.0, 1.0, 297.0),  # turns 3 steps before the first sample (300): a peak there
        (295.0, 1.0, 295.0),  # 5 steps: the floor under the curve pulls the vertex out by 1
        (280.0, 1.0, -math.inf),  # 20 steps: beyond the scan
        (297.0, 0.0, -math.inf),  # edge_reach 0: every tile best at an end is beyond
        (495.0, 1.0, 495.0),  # the high end (492) the same way
        (510.0, 1.0, math.inf),
    ],
)
def test_a_tile_best_at_an_end_peaks_just_past_it_within_edge_reach(
    at: float, reach: float, expect: float
) -> None:
    peaks = depth.tile_peaks(SCAN, _tiles(_curve(at, 1.0), _curve(400.0, 1.0)), edge_reach=reach)
    assert peaks[0].position == pytest.approx(expect, abs=1.5)
    assert peaks[1].position == pytest.approx(400.0, abs=0.3)


def test_featureless_and_negligible_tiles_do_not_count() -> None:
    flat = [1.0] * len(SCAN)  # a wall: no change with focus
    faint = _curve(300.0 + 12.8 * 3, 0.001)  # 0.1 % of the richest tile
    peaks = depth.tile_peaks(SCAN, _tiles(_curve(420.0, 1.0), flat, faint))
    assert [round(p.position) for p in peaks] == [420]
    assert depth.estimate([]) is None


def test_noise_moves_the_median_little() -> None:
    rng = np.random.default_rng(7)
    parts = [(380.0, 1.0)] * 30 + [(470.0, 1.2)] * 34  # a table behind a saucer: more saucer
    curves = [[v * (1 + 0.03 * rng.standard_normal()) for v in _curve(at, w)] for at, w in parts]
    est = depth.estimate(depth.tile_peaks(SCAN, _tiles(*curves)))
    assert est is not None and est.median == pytest.approx(470.0, abs=2.0)


def test_a_scan_that_came_back_over_itself_is_averaged() -> None:
    xs = SCAN + SCAN[::-1][:3]
    col = _curve(400.0, 1.0)
    tiles = [[v] for v in col + col[::-1][:3]]
    (peak,) = depth.tile_peaks(xs, tiles)
    assert peak.position == pytest.approx(400.0, abs=0.3)


def test_positions_equal_but_for_float_rounding_are_one_position() -> None:
    # A ledger that comes back to where it was by other steps lands on 4.3e-14, not 0
    # (af-stress's `tabletop top strip @120`, repeat 3).  Before session 14 those were two
    # positions 4e-14 apart, and a parabola through them warned of its rank and peaked
    # anywhere.
    back = 4.263256414560601e-14
    tiles = [[0.00363127], [0.00364841], [0.00337272], [0.0025]]
    peaks = depth.tile_peaks([0.0, back, 47.0, 94.0], tiles, edge_reach=1.0)
    same = depth.tile_peaks([0.0, 0.0, 47.0, 94.0], tiles, edge_reach=1.0)
    assert peaks == same
    samples = [(0.0, (1.0, 2.0)), (back, (1.5, 2.5)), (47.0, (1.0, 1.0))]
    assert depth.estimate_samples(samples) is None  # two positions cannot place a peak


@pytest.mark.parametrize(
    ("xs", "tiles", "match"),
    [
        ([1.0, 2.0], [[1.0]], "one tile vector per position"),
        ([1.0, 2.0, 2.0], [[1.0], [2.0], [3.0]], "3 or more positions"),
        ([1.0, 2.0, 3.0], [[1.0], [2.0, 1.0], [3.0]], "same number"),
    ],
)
def test_bad_samples_are_refused(xs: list[float], tiles: list[list[float]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        depth.tile_peaks(xs, tiles)


def test_weighted_quantile_golden() -> None:
    assert depth.weighted_quantile([3.0, 1.0, 2.0], [1.0, 1.0, 1.0], 0.5) == 2.0
    assert depth.weighted_quantile([1.0, 2.0], [1.0, 3.0], 0.5) == 2.0
    assert depth.weighted_quantile([1.0, 2.0], [1.0, 1.0], 0.5) == 1.0  # reaches half at 1
    assert depth.weighted_quantile([-math.inf, 5.0], [2.0, 1.0], 0.5) == -math.inf
    with pytest.raises(ValueError):
        depth.weighted_quantile([1.0], [0.0], 0.5)


def test_a_spread_beyond_the_scan_is_unknown_not_nan() -> None:
    # a climb that predicted its top ahead: every tile still rises at the far end
    est = depth.estimate([depth.TilePeak(math.inf, 1.0, 0), depth.TilePeak(math.inf, 2.0, 1)])
    assert est is not None and est.median == math.inf and est.spread == math.inf


# ----------------------------------------------------------------- views and geometry


def test_view_on_picks_the_window_richest_in_the_target_depth() -> None:
    # 4 x 4 tiles over the region (0, 0, 0.8, 0.8): a column of tiles at 470 on the left,
    # everything else at 500; a view of 0.2 x 0.2 fits one tile's width (0.2)
    peaks = [depth.TilePeak(470.0 if i % 4 == 0 else 500.0, 1.0, i) for i in range(16)]
    x, y = depth.view_on(peaks, 4, (0.0, 0.0, 0.8, 0.8), 470.0, 0.2, 4.0) or (-1.0, -1.0)
    assert x == pytest.approx(0.1) and 0.0 < y < 0.8
    assert depth.view_on(peaks, 4, (0.0, 0.0, 0.8, 0.8), 300.0, 0.2, 4.0) is None


def test_tiles_within_maps_a_magnified_view_onto_the_region_tiles() -> None:
    # region (0, 0, 0.8, 0.8) in 4 x 4 tiles of 0.2; the view (0, 0, 0.2, 0.2) sees tile 0
    # only: all 2 x 2 of its own tiles lie in it
    assert depth.tiles_within((0.0, 0.0, 0.8, 0.8), 4, {0}, (0.0, 0.0, 0.2, 0.2), 2) == [0, 1, 2, 3]
    assert depth.tiles_within((0.0, 0.0, 0.8, 0.8), 4, {1}, (0.0, 0.0, 0.2, 0.2), 2) == []
    # a view straddling tiles 0 and 1: its left half in 0, its right half in 1
    assert depth.tiles_within((0.0, 0.0, 0.8, 0.8), 4, {1}, (0.1, 0.0, 0.2, 0.2), 2) == [1, 3]


def test_estimate_samples_is_estimate_of_tile_peaks_once_it_can_tell() -> None:
    xs = [0.0, 10.0, 20.0, 30.0, 40.0]
    tiles = [(math.exp(-((x - 18.0) ** 2) / 200.0), math.exp(-((x - 26.0) ** 2) / 200.0)) for x in xs]
    samples = list(zip(xs, tiles, strict=True))
    assert depth.estimate_samples(samples, fit_points=3) == depth.estimate(
        depth.tile_peaks(xs, tiles, fit_points=3)
    )
    assert depth.estimate_samples(samples[:2]) is None  # two positions cannot place a peak
    assert depth.estimate_samples([*samples[:3], (50.0, (1.0,))]) is None  # unequal tile counts
    flat = [(x, (1.0, 1.0)) for x in xs]
    assert depth.estimate_samples(flat) is None  # no tile rises: none counts
