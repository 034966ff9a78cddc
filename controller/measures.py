"""Focus measures: how sharp a grayscale region is, as one non-negative number.

Pure numpy, no IO.  Every pixel measure takes a 2-D array (uint8 or float, any size of at
least 3x3) and returns a float that is

- 0 for a flat region,
- larger for a sharper version of the same region,
- unchanged by transposing or rotating 180 degrees, and by adding a constant to every
  pixel (except ``normvar`` and the ``_n`` variants, which divide by the mean brightness
  on purpose).

The gradient measures scale with the square of the image contrast, so exposure flicker of
1 % moves them by about 2 %.  Their ``_n`` variants divide by the squared mean brightness
and so do not move with exposure at all (measured on the simulated camera: frame-to-frame
noise of Tenengrad drops from about 1-2 % to 0.3-0.5 %).  A search compares a measure only
within one view (one zoom level, one decode scale).

``jpeg_size`` is the free proxy: a sharper frame holds more high-frequency detail, so the
camera's own JPEG encoder spends more bytes on it.  It needs no decoding at all, but it
sees the whole frame, not the region.

Use :func:`get` to look a measure up by name; :data:`NAMES` lists them.

Errors: :func:`get` raises ``KeyError`` (with the known names) for an unknown name; the
pixel measures raise ``ValueError`` for an array that is not 2-D or smaller than 3x3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.floating] | npt.NDArray[np.integer]
PixelMeasure = Callable[[Gray], float]
ByteMeasure = Callable[[bytes], float]


def _as_float(gray: Gray) -> npt.NDArray[np.float64]:
    a = np.asarray(gray)
    if a.ndim != 2 or a.shape[0] < 3 or a.shape[1] < 3:
        raise ValueError(f"a focus measure needs a 2-D array of at least 3x3, got shape {a.shape}")
    return a.astype(np.float64, copy=False)


def variance_of_laplacian(gray: Gray) -> float:
    """Variance of the 4-neighbour Laplacian over the interior (Pech-Pacheco et al. 2000)."""
    a = _as_float(gray)
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4.0 * a[1:-1, 1:-1]
    return float(lap.var())


def _sobel_energy(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Squared Sobel gradient magnitude at every interior pixel, (h - 2, w - 2)."""
    # Separable Sobel: smooth [1, 2, 1] across, difference [-1, 0, 1] along.
    sy = a[:-2, :] + 2.0 * a[1:-1, :] + a[2:, :]
    gx = sy[:, 2:] - sy[:, :-2]
    sx = a[:, :-2] + 2.0 * a[:, 1:-1] + a[:, 2:]
    gy = sx[2:, :] - sx[:-2, :]
    out: npt.NDArray[np.float64] = gx * gx + gy * gy
    return out


def tenengrad(gray: Gray) -> float:
    """Mean squared Sobel gradient magnitude over the interior (Tenenbaum 1970), no threshold."""
    return float(np.mean(_sobel_energy(_as_float(gray))))


def block_mean(gray: Gray, k: int) -> npt.NDArray[np.float64]:
    """``gray`` shrunk ``k`` times on each side by the mean of each k x k block (the rows and
    columns left over dropped); as it is for ``k`` <= 1 or a region under one block."""
    a = _as_float(gray)
    h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    if k <= 1 or h == 0 or w == 0:
        return a
    out: npt.NDArray[np.float64] = a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))
    return out


def tile_energy(gray: Gray, n: int) -> npt.NDArray[np.float64]:
    """Tenengrad's share of each of ``n`` x ``n`` tiles, row by row, over the squared mean
    brightness: the values sum to ``tenengrad_n`` of the whole region.

    Which part of a region holds its detail, and (fed frame after frame along a scan)
    where each part comes into focus: see :mod:`controller.search.depth`.  The tiles
    split the interior (the Sobel kernel's border is left out) as evenly as whole pixels
    allow.  Raises ``ValueError`` if a tile would be less than one pixel, or ``n`` < 1.
    """
    a = _as_float(gray)
    e = _sobel_energy(a)
    h, w = e.shape
    if n < 1 or n > min(h, w):
        raise ValueError(f"cannot split {h}x{w} interior pixels into {n}x{n} tiles")
    denom = e.size * float(a.mean()) ** 2
    if not denom > 0.0:  # black (or so dark that the square underflows)
        return np.zeros(n * n)
    rows = np.linspace(0, h, n + 1).astype(np.intp)[:-1]
    cols = np.linspace(0, w, n + 1).astype(np.intp)[:-1]
    sums = np.add.reduceat(np.add.reduceat(e, rows, axis=0), cols, axis=1)
    out: npt.NDArray[np.float64] = sums.ravel() / denom
    return out


def brenner(gray: Gray) -> float:
    """Mean squared difference of pixels two apart, across and down (Brenner et al. 1976)."""
    a = _as_float(gray)
    dx = a[:, 2:] - a[:, :-2]
    dy = a[2:, :] - a[:-2, :]
    return float(np.mean(dx * dx) + np.mean(dy * dy))


def normalized_variance(gray: Gray) -> float:
    """Grey-level variance divided by the mean (Groen et al. 1985); 0 for a black region."""
    a = _as_float(gray)
    mean = float(a.mean())
    if mean <= 0.0:
        return 0.0
    return float(a.var()) / mean


def jpeg_size(jpeg: bytes) -> float:
    """Length of the camera's JPEG in bytes: more detail, more bytes."""
    return float(len(jpeg))


def gain_normalized(fn: PixelMeasure) -> PixelMeasure:
    """``fn`` divided by the squared mean brightness: blind to exposure gain (flicker); 0 for black."""

    def measure(gray: Gray) -> float:
        a = _as_float(gray)
        square = float(a.mean()) ** 2
        return fn(a) / square if square > 0.0 else 0.0  # 0 for black, or a square that underflows

    measure.__name__ = f"{getattr(fn, '__name__', 'measure')}_n"
    measure.__doc__ = f"{getattr(fn, '__name__', 'measure')} over the squared mean brightness."
    return measure


@dataclass(frozen=True, slots=True)
class Measure:
    """A named focus measure.  ``needs`` says what to hand it: decoded pixels or the JPEG bytes."""

    name: str
    needs: Literal["pixels", "jpeg"]
    pixels: PixelMeasure | None = None
    jpeg: ByteMeasure | None = None

    def __post_init__(self) -> None:
        if (self.needs == "pixels") != (self.pixels is not None) or (self.needs == "jpeg") != (
            self.jpeg is not None
        ):
            raise ValueError(f"measure {self.name!r}: supply exactly the function its 'needs' names")


_REGISTRY: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("laplacian", "pixels", pixels=variance_of_laplacian),
        Measure("tenengrad", "pixels", pixels=tenengrad),
        Measure("brenner", "pixels", pixels=brenner),
        Measure("normvar", "pixels", pixels=normalized_variance),
        Measure("laplacian_n", "pixels", pixels=gain_normalized(variance_of_laplacian)),
        Measure("tenengrad_n", "pixels", pixels=gain_normalized(tenengrad)),
        Measure("brenner_n", "pixels", pixels=gain_normalized(brenner)),
        Measure("jpeg_size", "jpeg", jpeg=jpeg_size),
    )
}

NAMES: tuple[str, ...] = tuple(_REGISTRY)
DEFAULT = "tenengrad_n"


def get(name: str) -> Measure:
    """The measure called ``name``.  Raises ``KeyError`` naming the known measures."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown focus measure {name!r}; known: {', '.join(NAMES)}") from None
