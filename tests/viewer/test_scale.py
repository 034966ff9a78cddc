"""viewer.scale: which DCT scale a tile gets, as golden tables."""

from __future__ import annotations

import pytest

from viewer.scale import SCALES, choose_scale, scaled_size

# (tile width in device pixels, frame width) -> denominator
CHOICES = [
    # 960-wide frames (an 80D's live view): 960, 480, 240, 120 at 1, 1/2, 1/4, 1/8
    ((None, 960), 1),  # no declaration: the original
    ((1920, 960), 1),
    ((961, 960), 1),
    ((960, 960), 1),
    ((959, 960), 1),  # 480 would be narrower than the tile
    ((481, 960), 1),
    ((480, 960), 2),
    ((450, 960), 2),  # a 440-px grid tile at devicePixelRatio 1
    ((241, 960), 2),
    ((240, 960), 4),
    ((121, 960), 4),
    ((120, 960), 8),
    ((60, 960), 8),
    ((1, 960), 8),  # never below 1/8: libjpeg has nothing smaller
    # unknowns and nonsense count as "no declaration"
    ((240, None), 1),
    ((0, 960), 1),
    ((-240, 960), 1),
    ((240, 0), 1),
    # widths that do not divide: libjpeg rounds up, ceil(1001 / 8) = 126
    ((126, 1001), 8),
    ((127, 1001), 4),
    ((251, 1001), 4),  # ceil(1001 / 4) = 251
    ((252, 1001), 2),
    ((501, 1001), 2),
    ((502, 1001), 1),
    # a tiny frame
    ((1, 7), 8),
    ((2, 7), 4),
    ((3, 7), 2),  # ceil(7 / 4) = 2 < 3
    ((4, 7), 2),
    ((5, 7), 1),
]


@pytest.mark.parametrize(("args", "denom"), CHOICES)
def test_choose_scale_golden(args: tuple[int | None, int | None], denom: int) -> None:
    assert choose_scale(*args) == denom


def test_choice_is_the_smallest_scale_at_least_as_wide_as_the_tile() -> None:
    for frame in (7, 640, 960, 1001):
        for tile in range(1, 1200):
            d = choose_scale(tile, frame)
            assert scaled_size(frame, frame, d)[0] >= tile or d == 1, (tile, frame)
            smaller = [s for s in SCALES if s > d]
            assert all(scaled_size(frame, frame, s)[0] < tile for s in smaller), (tile, frame)


SIZES = [
    ((960, 640, 1), (960, 640)),
    ((960, 640, 2), (480, 320)),
    ((960, 640, 4), (240, 160)),
    ((960, 640, 8), (120, 80)),
    ((1001, 667, 8), (126, 84)),
    ((1001, 667, 2), (501, 334)),
    ((1, 1, 8), (1, 1)),
]


@pytest.mark.parametrize(("args", "size"), SIZES)
def test_scaled_size_golden(args: tuple[int, int, int], size: tuple[int, int]) -> None:
    assert scaled_size(*args) == size


@pytest.mark.parametrize("args", [(960, 640, 3), (960, 640, 16), (0, 640, 2), (960, -1, 2)])
def test_scaled_size_rejects_what_libjpeg_cannot_do(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        scaled_size(*args)
