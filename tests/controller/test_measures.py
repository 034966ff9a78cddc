"""controller.measures: golden values, ordering by sharpness, invariances, the registry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from controller import measures

PIXEL_MEASURES = ["laplacian", "tenengrad", "brenner", "normvar", "laplacian_n", "tenengrad_n", "brenner_n"]
GRADIENT_MEASURES = ["laplacian", "tenengrad", "brenner"]

EDGE = np.array([[0, 0, 0, 10, 10, 10]] * 4, dtype=np.uint8)  # a vertical step edge, 4x6
IMPULSE = np.zeros((5, 5))
IMPULSE[2, 2] = 1.0

# (array, measure name, value worked out by hand)
GOLDEN = [
    (EDGE, "brenner", 50.0),  # across: [0, 10, 10, 0] squared mean 50; down: 0
    (EDGE, "tenengrad", 800.0),  # column sums 4*a, differences [0, 40, 40, 0]: mean of squares 800
    (EDGE, "laplacian", 50.0),  # interior Laplacian rows [0, 10, -10, 0]: variance 50
    (EDGE, "normvar", 5.0),  # variance 25 over mean 5
    (EDGE.T, "brenner", 50.0),
    (EDGE.T, "tenengrad", 800.0),
    (IMPULSE, "laplacian", 20.0 / 9),  # 3x3 interior [[0,1,0],[1,-4,1],[0,1,0]]: mean 0, (16+4)/9
    (np.full((8, 8), 7.0), "laplacian", 0.0),
    (np.full((8, 8), 7.0), "tenengrad", 0.0),
    (np.full((8, 8), 7.0), "brenner", 0.0),
    (np.full((8, 8), 7.0), "normvar", 0.0),
    (np.full((8, 8), 7.0), "tenengrad_n", 0.0),
    (np.zeros((8, 8)), "normvar", 0.0),
    (EDGE, "tenengrad_n", 800.0 / 25),  # mean brightness 5
    (EDGE, "brenner_n", 50.0 / 25),
]


@pytest.mark.parametrize(("array", "name", "expected"), GOLDEN)
def test_golden_values(array: np.ndarray, name: str, expected: float) -> None:
    assert measures.get(name).pixels is not None
    assert measures.get(name).pixels(array) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def _texture(seed: int = 3, shape: tuple[int, int] = (96, 128)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random(shape) * 200.0 + 20.0


def _box_blur(a: np.ndarray, r: int) -> np.ndarray:
    if r == 0:
        return a.copy()
    k = 2 * r + 1
    pad = np.pad(a, r, mode="reflect")
    c = np.cumsum(np.cumsum(pad, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return s / (k * k)


@pytest.mark.parametrize("name", PIXEL_MEASURES)
def test_sharper_is_higher(name: str) -> None:
    f = measures.get(name).pixels
    assert f is not None
    base = _texture()
    values = [f(_box_blur(base, r)) for r in range(5)]
    assert all(a > b for a, b in itertools.pairwise(values)), values


@pytest.mark.parametrize("name", GRADIENT_MEASURES)
def test_offset_invariant_and_gain_squared(name: str) -> None:
    f = measures.get(name).pixels
    assert f is not None
    a = _texture(5)
    assert f(a + 37.0) == pytest.approx(f(a), rel=1e-9)
    assert f(a * 3.0) == pytest.approx(9.0 * f(a), rel=1e-9)


@pytest.mark.parametrize("name", ["laplacian_n", "tenengrad_n", "brenner_n"])
def test_normalized_variants_ignore_gain(name: str) -> None:
    f = measures.get(name).pixels
    raw = measures.get(name[:-2]).pixels
    assert f is not None and raw is not None
    a = _texture(8)
    assert f(a * 1.7) == pytest.approx(f(a), rel=1e-9)
    assert f(a) == pytest.approx(raw(a) / a.mean() ** 2, rel=1e-12)
    assert f(np.zeros((5, 5))) == 0.0


def test_normvar_scales_with_gain() -> None:
    a = _texture(6)
    assert measures.normalized_variance(a * 2.0) == pytest.approx(2.0 * measures.normalized_variance(a))


@pytest.mark.parametrize("name", PIXEL_MEASURES)
def test_uint8_and_float_agree(name: str) -> None:
    f = measures.get(name).pixels
    assert f is not None
    a = _texture(7).astype(np.uint8)
    assert f(a) == pytest.approx(f(a.astype(np.float32)), rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(3, 12), st.integers(3, 12))),
    st.sampled_from(PIXEL_MEASURES),
)
def test_orientation_invariance(a: np.ndarray, name: str) -> None:
    f = measures.get(name).pixels
    assert f is not None
    v = f(a)
    assert v >= 0.0
    assert f(a.T) == pytest.approx(v, rel=1e-9, abs=1e-9)
    assert f(a[::-1, ::-1]) == pytest.approx(v, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("shape", [(2, 10), (10, 2), (5,), (3, 3, 3)])
@pytest.mark.parametrize("name", PIXEL_MEASURES)
def test_bad_shapes_raise(shape: tuple[int, ...], name: str) -> None:
    f = measures.get(name).pixels
    assert f is not None
    with pytest.raises(ValueError, match="2-D array"):
        f(np.zeros(shape))


def test_registry() -> None:
    assert set(measures.NAMES) == {*PIXEL_MEASURES, "jpeg_size"}
    assert measures.DEFAULT in measures.NAMES
    m = measures.get("jpeg_size")
    assert m.needs == "jpeg" and m.jpeg is not None and m.pixels is None
    assert m.jpeg(b"\xff\xd8abc") == 5.0
    with pytest.raises(KeyError, match="known: laplacian"):
        measures.get("sobel")
    with pytest.raises(ValueError, match="exactly"):
        measures.Measure("x", "pixels")


# ----------------------------------------------------------------- tile_energy


def test_tile_energy_golden_edge() -> None:
    # interior Sobel energy [[0, 1600, 1600, 0]] * 2; 8 pixels; mean brightness 5
    got = measures.tile_energy(EDGE, 2)
    assert got.tolist() == pytest.approx([8.0, 8.0, 8.0, 8.0], rel=1e-12)
    assert measures.tile_energy(EDGE, 1).tolist() == pytest.approx([800.0 / 25], rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (12, 15), elements=st.floats(0, 255, allow_nan=False)),
    st.integers(min_value=1, max_value=10),
)
def test_tile_energy_sums_to_tenengrad_n(a: np.ndarray, n: int) -> None:
    tiles = measures.tile_energy(a, n)
    assert tiles.shape == (n * n,) and (tiles >= 0).all()
    whole = measures.get("tenengrad_n").pixels
    assert whole is not None
    assert tiles.sum() == pytest.approx(whole(a), rel=1e-9, abs=1e-12)


def test_tile_energy_says_where_the_detail_is() -> None:
    a = np.full((64, 96), 100.0)
    a[40:60, 60:90] = _texture()[:20, :30]  # detail in the bottom-right tile of 2x2 only
    tiles = measures.tile_energy(a, 2)
    assert tiles[3] > 0.99 * tiles.sum()
    assert int(np.argmax(measures.tile_energy(a, 4))) == 15 - 0  # row 3, column 3


@pytest.mark.parametrize("n", [0, 5])
def test_tile_energy_refuses_tiles_smaller_than_a_pixel(n: int) -> None:
    with pytest.raises(ValueError, match="tiles"):
        measures.tile_energy(np.zeros((6, 6)), n)
