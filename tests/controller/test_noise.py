"""The noise of one frame's measure, from a sample's frames and their tiles: golden cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controller.search.noise import relative_noise, tiles_decompose

# (values, tiles, expected relative noise or None)
GOLDEN: list[tuple[list[float], list[list[float]], float | None]] = [
    ([1.0], [], None),  # one frame: no spread to see
    ([0.0, 0.0, 0.0], [], None),  # black
    ([1.0, 1.0, 1.0], [], 0.0),
    ([9.0, 10.0, 11.0], [], 0.1),  # sd 1 over mean 10
    # Tiles that sum to each measure but swing against each other: the measures agree to
    # 0.1 %, the tiles say each frame's measure varies by sqrt(2 * 0.5^2) / 2 = 35 %.
    ([2.0, 2.0, 2.0], [[1.5, 0.5], [0.5, 1.5], [1.0, 1.0]], math.sqrt(2 * 0.25) / 2.0),
    # Tiles that move together (a gain): the measures' own spread is the larger, and kept.
    ([1.8, 2.0, 2.2], [[0.9, 0.9], [1.0, 1.0], [1.1, 1.1]], 0.1),
    # Tiles that do not sum to the measure (another measure): ignored.
    ([2.0, 2.0, 2.0], [[1.5, 0.4], [0.5, 1.4], [1.0, 0.9]], 0.0),
    # Only some frames carry tiles: ignored.
    ([2.0, 2.0, 2.0], [[1.5, 0.5], [0.5, 1.5]], 0.0),
]


@pytest.mark.parametrize(("values", "tiles", "expected"), GOLDEN)
def test_relative_noise_golden(values: list[float], tiles: list[list[float]], expected: float | None) -> None:
    got = relative_noise(values, tiles)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_tiles_decompose_needs_every_frame_and_equal_grids() -> None:
    assert tiles_decompose([2.0, 3.0], [[1.0, 1.0], [2.0, 1.0]])
    assert not tiles_decompose([2.0, 3.0], [[1.0, 1.0], [3.0]])  # grids differ
    assert not tiles_decompose([2.0, 3.0], [[1.0, 1.0]])  # one frame has none
    assert not tiles_decompose([2.0], [[]])
    assert not tiles_decompose([2.0, 3.0], [[1.0, 1.0], [1.0, 1.0]])  # 2 != 3


def test_tiles_see_the_spread_that_three_agreeing_frames_hide() -> None:
    """Three frames of independent tile noise: the measures' own estimate comes out below a
    third of the truth in about 1 draw of 10 (P = 1 - exp(-1/9)); with 4 x 4 tiles, never in
    2000 draws.  The tile estimate's median is within 10 % of the truth."""
    rng = np.random.default_rng(3)
    sigma_tile, n_tiles, draws = 0.05, 16, 2000
    truth = sigma_tile * math.sqrt(n_tiles) / n_tiles  # relative noise of the sum of 16 unit tiles
    own_low = tiled_low = 0
    tiled: list[float] = []
    for _ in range(draws):
        tiles = 1.0 + sigma_tile * rng.standard_normal((3, n_tiles))
        values = tiles.sum(axis=1)
        own = relative_noise(values.tolist())
        both = relative_noise(values.tolist(), tiles.tolist())
        assert own is not None and both is not None and both >= own
        own_low += own < truth / 3
        tiled_low += both < truth / 3
        tiled.append(both)
    assert own_low > draws * 0.06
    assert tiled_low == 0
    assert float(np.median(tiled)) == pytest.approx(truth, rel=0.1)
