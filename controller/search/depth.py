"""Where a region's detail comes into focus, part by part: depth from focus over tiles.

A region that spans several depths (a table top behind a cup, a motorbike seen at an
angle) has no single contrast peak that stands for all of it.  The focus that belongs to
it is the median depth of its detail: the in-focus position of its parts, each weighted
by how much detail (gradient energy) it holds, as the simulator's truth defines it.  A
search gets there from the same scan frames, scored per tile
(:func:`controller.measures.tile_energy`):

- :func:`tile_peaks`: for every tile, where along the scan its energy peaks (a parabola
  through the logarithm of the samples around its best one) and its weight (its best
  energy).  A tile still rising at either end of the scan peaks beyond it (-inf, +inf);
  a tile whose energy hardly changes (featureless: sky, a wall) or that holds almost
  nothing next to the region's richest tile does not count.
- :func:`estimate`: the weighted median of the peaks, the weighted 10 % and 90 % points
  (how far the region spreads in depth), and the shares of weight beyond either end.
- :func:`estimate_samples`: both at once, from (position, tiles) samples as a search keeps
  them; None while they cannot tell yet.

Pure: positions are the search's ledger (level-1 units), nothing here knows time or IO.
Errors: ``ValueError`` for samples of unequal length or fewer than 3 distinct positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class TilePeak:
    """Tile ``index``: where its energy peaks (+-inf: beyond the scan's end), its weight."""

    position: float
    weight: float
    index: int = -1


@dataclass(frozen=True, slots=True)
class DepthEstimate:
    """The weighted median of the counted tiles' peaks, the 10 % and 90 % points, the share
    of weight peaking beyond the scan's low and high ends, and how many tiles counted."""

    median: float
    low: float
    high: float
    beyond_low: float
    beyond_high: float
    tiles: int

    @property
    def spread(self) -> float:
        """Steps between the 10 % and 90 % points (inf when either lies beyond the scan)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return math.inf
        return self.high - self.low


# Positions are ledger sums of nominal steps: the same place reached by two paths can
# differ by float rounding (0 and 4e-14), and must count as one position.
POSITION_DECIMALS = 6


def _positions(positions: Sequence[float]) -> NDArray[np.float64]:
    """``positions`` to ``POSITION_DECIMALS`` decimals: equal when they are one place."""
    return np.asarray(positions, dtype=np.float64).round(POSITION_DECIMALS)


def tile_peaks(
    positions: Sequence[float],
    tiles: Sequence[Sequence[float]],
    *,
    min_rise: float = 1.5,
    min_weight: float = 0.02,
    fit_points: int = 5,
    edge_reach: float = 0.0,
) -> list[TilePeak]:
    """The counted tiles' peaks from ``tiles[i]`` (every tile's energy) at ``positions[i]``.

    A tile counts when its best sample is at least ``min_rise`` times its worst and at least
    ``min_weight`` times the best of the richest tile.  Its peak is the vertex of a
    parabola fitted to the log-energy of up to ``fit_points`` samples around its best one,
    kept within one sample spacing of that sample.  Samples at equal positions (a scan that
    came back; equal to ``POSITION_DECIMALS`` decimals) are averaged first.

    A tile best at an end sample peaks beyond the scan (-inf, +inf), unless ``edge_reach``
    > 0 and the parabola through the three end samples turns over no more than
    ``edge_reach`` sample spacings outside it: then it peaks at that vertex.  A scan that
    starts just before a region's peak leaves some tiles of it best at the first sample.
    """
    if len(positions) != len(tiles):
        raise ValueError("one tile vector per position")
    if len({len(t) for t in tiles}) > 1:
        raise ValueError("every sample needs the same number of tiles")
    xs_all = _positions(positions)
    e_all = np.asarray(tiles, dtype=np.float64).reshape(xs_all.size, -1)
    xs, inverse = np.unique(xs_all, return_inverse=True)
    if xs.size < 3:
        raise ValueError("tile peaks need samples at 3 or more positions")
    e = np.zeros((xs.size, e_all.shape[1]))
    np.add.at(e, inverse, e_all)
    e /= np.bincount(inverse)[:, None]
    spacing = float(np.median(np.diff(xs)))
    best = e.max(axis=0)
    worst = e.min(axis=0)
    floor = min_weight * float(best.max()) if best.size else 0.0
    half = max(1, fit_points // 2)
    out: list[TilePeak] = []
    for t in range(e.shape[1]):
        if not (best[t] > floor and best[t] >= min_rise * worst[t] and best[t] > 0.0):
            continue
        k = int(np.argmax(e[:, t]))
        if k in (0, xs.size - 1):
            end = slice(0, 3) if k == 0 else slice(xs.size - 3, xs.size)
            outward = -1.0 if k == 0 else 1.0
            turn = _turn(xs[end], e[end, t], xs[k], outward, edge_reach * spacing) if edge_reach > 0 else None
            beyond = outward * math.inf
            out.append(TilePeak(beyond if turn is None else turn, float(best[t]), t))
            continue
        lo, hi = max(0, k - half), min(xs.size, k + half + 1)
        out.append(TilePeak(_vertex(xs[lo:hi], e[lo:hi, t], xs[k], spacing), float(best[t]), t))
    return out


def _log_top(xs: np.ndarray, ys: np.ndarray, at: float) -> float | None:
    """Where a parabola through (x, log y) tops, relative to ``at``; None if it has no top."""
    logs = np.log(np.maximum(ys, 1e-300))
    a, b, _ = (float(c) for c in np.polyfit(xs - at, logs, 2))  # centred: well conditioned
    return -b / (2.0 * a) if a < 0.0 else None


def _turn(xs: np.ndarray, ys: np.ndarray, end: float, outward: float, reach: float) -> float | None:
    """The top of the log-parabola through three samples at one end of a scan (``end`` the
    outermost, ``outward`` -1 at the low end, +1 at the high), if it lies at most ``reach``
    outside the scan; else None."""
    top = _log_top(xs, ys, end)
    return end + top if top is not None and top * outward <= reach else None


def _vertex(xs: np.ndarray, ys: np.ndarray, at: float, spacing: float) -> float:
    """The top of a parabola through (x, log y), within ``spacing`` of ``at`` (``at`` if it
    is not a top)."""
    top = _log_top(xs, ys, at)
    return at if top is None else at + min(max(top, -spacing), spacing)


def view_on(
    peaks: Sequence[TilePeak],
    n: int,
    roi: tuple[float, float, float, float],
    target: float,
    span: float,
    near: float,
) -> tuple[float, float] | None:
    """The centre (fractions of the full view) of a ``span`` x ``span`` view (a magnified
    live view shows 1 / zoom of the frame) over the part of ``roi`` that comes into focus
    at ``target``: of the windows centred on a tile peaking within ``near`` steps of it,
    the one where such tiles outweigh the tiles at other depths by the most.  The tiles are
    ``roi`` split ``n`` x ``n``, row by row.  None when no tile peaks that near."""
    x0, y0, w, h = roi

    def centre(i: int) -> tuple[float, float]:
        return x0 + (i % n + 0.5) * w / n, y0 + (i // n + 0.5) * h / n

    near_target = [p for p in peaks if abs(p.position - target) <= near]
    best: tuple[float, tuple[float, float]] | None = None
    for c in near_target:
        cx, cy = centre(c.index)
        score = 0.0
        for p in peaks:
            px, py = centre(p.index)
            if abs(px - cx) <= span / 2 and abs(py - cy) <= span / 2:
                score += p.weight if abs(p.position - target) <= near else -p.weight
        if best is None or score > best[0]:
            best = (score, (cx, cy))
    return None if best is None else best[1]


def tiles_within(
    roi: tuple[float, float, float, float],
    n: int,
    chosen: set[int],
    window: tuple[float, float, float, float],
    m: int,
) -> list[int]:
    """Of the ``m`` x ``m`` tiles that split the part of ``roi`` inside ``window`` (a
    magnified view; both in fractions of the full view), the ones whose centre lies in one
    of the ``chosen`` tiles of ``roi`` split ``n`` x ``n`` (row by row, both)."""
    x0, y0, w, h = roi
    ax0, ay0 = max(x0, window[0]), max(y0, window[1])
    ax1, ay1 = min(x0 + w, window[0] + window[2]), min(y0 + h, window[1] + window[3])
    out = []
    for k in range(m * m):
        i, j = divmod(k, m)
        cx = ax0 + (j + 0.5) * (ax1 - ax0) / m
        cy = ay0 + (i + 0.5) * (ay1 - ay0) / m
        oj = min(max(int((cx - x0) / w * n), 0), n - 1)
        oi = min(max(int((cy - y0) / h * n), 0), n - 1)
        if oi * n + oj in chosen:
            out.append(k)
    return out


def weighted_quantile(values: Sequence[float], weights: Sequence[float], q: float) -> float:
    """The smallest value at which the cumulative weight reaches ``q`` of the total (values
    may be +-inf).  Raises ``ValueError`` for no positive weight."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if v.size == 0 or not total > 0.0:
        raise ValueError("a weighted quantile needs some positive weight")
    order = np.argsort(v, kind="stable")
    c = np.cumsum(w[order])
    i = int(np.searchsorted(c, q * total - 1e-12 * total))
    return float(v[order][min(i, v.size - 1)])


def estimate(peaks: Sequence[TilePeak]) -> DepthEstimate | None:
    """The weighted median and spread of ``peaks``; None when no tile counted."""
    if not peaks:
        return None
    pos = [p.position for p in peaks]
    w = [p.weight for p in peaks]
    total = sum(w)
    return DepthEstimate(
        median=weighted_quantile(pos, w, 0.5),
        low=weighted_quantile(pos, w, 0.1),
        high=weighted_quantile(pos, w, 0.9),
        beyond_low=sum(p.weight for p in peaks if p.position == -math.inf) / total,
        beyond_high=sum(p.weight for p in peaks if p.position == math.inf) / total,
        tiles=len(peaks),
    )


def estimate_samples(
    samples: Sequence[tuple[float, Sequence[float]]],
    *,
    min_rise: float = 1.5,
    fit_points: int = 5,
    edge_reach: float = 0.0,
) -> DepthEstimate | None:
    """:func:`estimate` of :func:`tile_peaks` over ``samples`` (position, every tile's
    energy) as a search keeps them; None with fewer than 3 distinct positions, samples of
    unequal tile counts, or no tile that counts."""
    if np.unique(_positions([p for p, _ in samples])).size < 3 or len({len(t) for _, t in samples}) != 1:
        return None
    peaks = tile_peaks(
        [p for p, _ in samples],
        [t for _, t in samples],
        min_rise=min_rise,
        fit_points=fit_points,
        edge_reach=edge_reach,
    )
    return estimate(peaks)
