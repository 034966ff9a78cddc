"""How noisy is one frame's focus measure: estimated from the frames of one sample.

A sample averages a few frames taken with the motor at rest, so their spread is the
frame-to-frame noise.  From the frames' measures alone, three frames give an estimate with
two degrees of freedom: one time in ten it comes out below a third of the truth, and a
search that trusts it takes noise for slope (a bump between stuck samples at an end stop,
for one).

When each frame's measure is the sum of its tiles' shares (``tile_energy`` with the
default measure), the tiles give many more degrees of freedom.  Sensor noise is
independent from tile to tile, so the measure's variance is the sum of the tiles'
variances, each estimated from the same frames: three frames of 2 x 2 tiles give eight
degrees of freedom, of 4 x 4 tiles thirty-two.  Noise common to every tile (a gain that
the measure's normalisation does not cancel) is not seen by the tiles, so the estimate is
the larger of the two.

Pure functions; no clock, no sockets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Tiles decompose a frame's measure when they sum to it within this relative error.
SUM_TOLERANCE = 1e-6


def _var(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def tiles_decompose(values: Sequence[float], tiles: Sequence[Sequence[float]]) -> bool:
    """True when every frame has tiles and they sum to that frame's measure."""
    if not tiles or len(tiles) != len(values) or any(len(t) != len(tiles[0]) for t in tiles):
        return False
    return all(
        len(t) > 0 and abs(sum(t) - v) <= SUM_TOLERANCE * max(abs(v), 1e-300)
        for v, t in zip(values, tiles, strict=True)
    )


def relative_noise(values: Sequence[float], tiles: Sequence[Sequence[float]] = ()) -> float | None:
    """The relative standard deviation of one frame's measure, from ``values`` (one measure
    per frame, motor at rest) and optionally each frame's ``tiles``; None from fewer than two
    frames or a mean that is not positive.

    With tiles that decompose the measures (:func:`tiles_decompose`): the larger of the
    measures' own spread and the square root of the summed tile variances, over the mean.
    Otherwise the measures' spread alone.
    """
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    if not mean > 0.0:
        return None
    own = math.sqrt(_var(values))
    if tiles_decompose(values, tiles):
        per_tile = sum(_var(col) for col in zip(*tiles, strict=True))
        own = max(own, math.sqrt(per_tile))
    return own / mean
