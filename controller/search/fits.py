"""Fitting a focus curve: where is the peak, and can the fit be trusted?

Pure numpy.  A focus measure falls off on both sides of the best position; its noise is
roughly proportional to its value (exposure flicker, sensor noise), so every model is
fitted with weights that make relative errors count equally, and all models are compared
on the same footing: residuals of ``log(measure)``.

Models (each linear least squares after a transform, except the hyperbola):

- ``gaussian``:   log y = a + b x + c x^2           (c < 0)
- ``lorentzian``: 1 / y = a + b x + c x^2           (c > 0)
- ``parabola``:   y     = a + b x + c x^2           (c < 0)
- ``hyperbola``:  1 / y = a + k sqrt(w^2 + (x - x0)^2)  (k > 0): the astronomers' V-curve
  (KStars, N.I.N.A. fit it to star sizes); contrast measures fall off like 1 / |defocus|
  far from focus, so their reciprocal is V-shaped with a rounded tip.

:func:`fit_peak` fits the models asked for, drops at most ``max_reject`` outliers (never going
below ``min_points``), and keeps
the model with the smallest information criterion.  An outlier is the point that the fit
of all the others misses by the most, if it misses by more than ``reject_sigma`` times
the others' RMS (or the known noise, whichever is larger), and the fit of all points
misses it by more than half that.  It returns ``None`` when no model has
a peak (wrong curvature).  Judging the fit (bracketing, residuals) is the caller's call:
:class:`Fit` carries what is needed.

Errors: ``ValueError`` if ``x`` and ``y`` differ in length or hold fewer than 3 points, or
if a measure is not positive.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
MODELS = ("gaussian", "lorentzian", "parabola", "hyperbola")
_N_PARAMS = {"gaussian": 3, "lorentzian": 3, "parabola": 3, "hyperbola": 4}


@dataclass(frozen=True, slots=True)
class Fit:
    """A fitted peak.  ``rms`` is the RMS of the log residuals (about the relative error)."""

    model: str
    center: float
    peak: float
    width: float
    rms: float = 0.0
    n: int = 0
    rejected: tuple[float, ...] = ()  # x of points left out as outliers
    slope: float = 0.0  # hyperbola only: k, the slope of 1/y far from the centre

    def predict(self, x: float) -> float:
        """The fitted measure at ``x`` (for a check after moving there)."""
        return float(self.predict_many(np.array([x], dtype=np.float64))[0])

    def offset_for(self, measure: float) -> float:
        """How far from the centre the fitted curve falls to ``measure`` (>= 0; 0 at or above the peak).

        The curve is symmetric, so this is a distance without a side: the caller knows the
        side from where it came.  Bisection on the curve, so it works for every model.
        """
        if measure >= self.peak:
            return 0.0
        lo, hi = 0.0, self.width
        while self.predict(self.center + hi) > measure and hi < 1e6:
            lo, hi = hi, hi * 2.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if self.predict(self.center + mid) > measure:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def predict_many(self, x: F64) -> F64:
        d = (x - self.center) / self.width
        if self.model == "gaussian":
            out: F64 = self.peak * np.exp(-0.5 * d * d)
        elif self.model == "lorentzian":
            out = self.peak / (1.0 + d * d)
        elif self.model == "parabola":
            out = self.peak * (1.0 - d * d)
        else:
            a = 1.0 / self.peak - self.slope * self.width
            out = 1.0 / np.maximum(a + self.slope * np.sqrt(self.width**2 + (x - self.center) ** 2), 1e-300)
        return out


def _lstsq(design: F64, target: F64, w: F64) -> F64 | None:
    a = design * w[:, None]
    b = target * w
    try:
        coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    except np.linalg.LinAlgError:
        return None
    out = np.asarray(coef, dtype=np.float64)
    return out if np.all(np.isfinite(out)) else None


def _quad_design(x: F64, x_ref: float, scale: float) -> F64:
    u = (x - x_ref) / scale
    return np.stack([np.ones_like(u), u, u * u], axis=1)


def _vertex(coef: F64, x_ref: float, scale: float) -> tuple[float, float] | None:
    a, b, c = (float(v) for v in coef)
    if c == 0.0:
        return None
    u0 = -b / (2.0 * c)
    return x_ref + u0 * scale, a + b * u0 + c * u0 * u0


_MAX_LOG_PEAK = 700.0  # exp() overflows a float64 beyond about 709.78


def _fit_quadratic(model: str, x: F64, y: F64) -> Fit | None:
    ref = float(x.mean())
    scale = max(float(np.ptp(x)) / 2.0, 1e-9)
    design = _quad_design(x, ref, scale)
    if model == "gaussian":
        coef = _lstsq(design, np.log(y), np.ones_like(y))
        ok = coef is not None and coef[2] < 0
    elif model == "lorentzian":
        coef = _lstsq(design, 1.0 / y, y)  # sd(1/y) ~ r/y: weight y
        ok = coef is not None and coef[2] > 0
    else:
        coef = _lstsq(design, y, 1.0 / y)  # sd(y) ~ r*y: weight 1/y
        ok = coef is not None and coef[2] < 0
    if not ok or coef is None:
        return None
    v = _vertex(coef, ref, scale)
    if v is None:
        return None
    center, top = v
    c = float(coef[2]) / (scale * scale)
    if model == "gaussian":
        if top > _MAX_LOG_PEAK:
            return None  # samples on a straight line in log: a top too far off to be a float
        peak, width = math.exp(top), math.sqrt(-1.0 / (2.0 * c))
    elif model == "lorentzian":
        if top <= 0:
            return None
        peak, width = 1.0 / top, math.sqrt(top / c)
    else:
        if top <= 0:
            return None
        peak, width = top, math.sqrt(-top / c)
    return Fit(model, center, peak, width, n=int(x.size))


def _fit_hyperbola(x: F64, y: F64) -> Fit | None:
    """1/y = a + k sqrt(w^2 + (x - x0)^2): grid over (x0, w), linear in (a, k), then a finer grid."""
    inv = 1.0 / y
    wts = y  # sd(1/y) ~ r / y
    span = max(float(np.ptp(x)), 1e-9)
    lo, hi = float(x.min()) - 0.25 * span, float(x.max()) + 0.25 * span
    widths = span * np.geomspace(0.01, 2.0, 24)
    best: tuple[float, float, float, float, float] | None = None  # sse, x0, w, a, k

    def search(x0s: F64, ws: F64) -> None:
        nonlocal best
        # Shape (len(x0s), len(ws), n): the V for every candidate.
        dx = x[None, None, :] - x0s[:, None, None]
        s = np.sqrt(ws[None, :, None] ** 2 + dx * dx)
        w2 = wts * wts
        # Weighted normal equations for (a, k) per candidate.
        sw = w2.sum()
        ss = (w2 * s).sum(axis=2)
        sss = (w2 * s * s).sum(axis=2)
        sy = (w2 * inv).sum()
        ssy = (w2 * s * inv).sum(axis=2)
        det = sw * sss - ss * ss
        with np.errstate(divide="ignore", invalid="ignore"):
            a = (sss * sy - ss * ssy) / det
            k = (sw * ssy - ss * sy) / det
        resid = (a[..., None] + k[..., None] * s - inv[None, None, :]) * wts
        sse = (resid * resid).sum(axis=2)
        sse = np.where((k > 0) & np.isfinite(sse), sse, np.inf)
        i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
        if np.isfinite(sse[i, j]) and (best is None or sse[i, j] < best[0]):
            best = (float(sse[i, j]), float(x0s[i]), float(ws[j]), float(a[i, j]), float(k[i, j]))

    search(np.linspace(lo, hi, 121), widths)
    if best is None:
        return None
    step = (hi - lo) / 120
    search(np.linspace(best[1] - step, best[1] + step, 41), best[2] * np.geomspace(0.7, 1.4, 15))
    _, x0, w, a, k = best
    top = a + k * w
    if top <= 0:
        return None
    return Fit("hyperbola", x0, 1.0 / top, w, n=int(x.size), slope=k)


def _fit_model(model: str, x: F64, y: F64) -> Fit | None:
    if model == "hyperbola":
        return _fit_hyperbola(x, y) if x.size >= 4 else None
    return _fit_quadratic(model, x, y)


def _log_resid(fit: Fit, x: F64, y: F64) -> F64:
    pred = fit.predict_many(x)
    out: F64 = np.log(y) - np.log(np.maximum(pred, 1e-300))
    return out


def _score(fit: Fit, x: F64, y: F64) -> tuple[float, float]:
    """(information criterion, rms of log residuals)."""
    r = _log_resid(fit, x, y)
    rss = float((r * r).sum())
    n = x.size
    rms = math.sqrt(rss / n)
    k = _N_PARAMS[fit.model]
    # AICc on log residuals, with a floor so a perfect fit does not dominate by -inf.
    aic = n * math.log(max(rss / n, 1e-12)) + 2 * k
    if n - k - 1 > 0:
        aic += 2 * k * (k + 1) / (n - k - 1)
    else:
        aic += 50.0
    return aic, rms


def _best(models: Sequence[str], x: F64, y: F64, min_width: float = 0.0) -> tuple[Fit, float] | None:
    best: tuple[Fit, float] | None = None
    for m in models:
        fit = _fit_model(m, x, y)
        if fit is None or fit.width < min_width:
            continue
        aic, rms = _score(fit, x, y)
        fit = _with_rms(fit, rms)
        if best is None or aic < best[1]:
            best = (fit, aic)
    return best


def _with_rms(fit: Fit, rms: float, rejected: tuple[float, ...] = ()) -> Fit:
    return dataclasses.replace(fit, rms=rms, rejected=rejected)


def fit_peak(
    x: Sequence[float],
    y: Sequence[float],
    *,
    models: Sequence[str] = MODELS,
    max_reject: int = 1,
    reject_sigma: float = 4.0,
    noise: float = 0.01,
    min_points: int = 4,
    min_width: float = 0.0,
) -> Fit | None:
    """Fit a peak to measures ``y`` at positions ``x``; see the module docstring.

    ``noise`` is the relative noise of one measure (a floor for what counts as a miss).
    ``min_width``: a model fitted narrower is no candidate (a peak far narrower than the
    samples' spacing is the fit's invention: nothing between them says so).
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.ndim != 1 or xa.size < 3:
        raise ValueError("fit_peak needs x and y of the same length, at least 3 points")
    if np.any(~np.isfinite(ya)) or np.any(ya <= 0):
        raise ValueError("fit_peak needs positive, finite measures")
    for m in models:
        if m not in MODELS:
            raise ValueError(f"unknown model {m!r}; known: {', '.join(MODELS)}")
    keep = np.ones(xa.size, dtype=bool)
    rejected: list[float] = []
    best = _best(models, xa, ya, min_width)
    while best is not None and len(rejected) < max_reject and keep.sum() > min_points:
        # Leave one out: a point is an outlier when the fit of the others misses it by far
        # more than those others scatter (or than the known noise).
        idx = np.flatnonzero(keep)
        worst, worst_z = -1, 0.0
        full = _log_resid(best[0], xa, ya)
        floor = 0.5 * reject_sigma * max(noise, 1e-6)
        for i in idx:
            # A point the full fit passes closer than the test below could ever accept is
            # not an outlier, whatever the leave-one-out fit: skip that fit (same result).
            if abs(float(full[i])) < floor:
                continue
            others = keep.copy()
            others[i] = False
            loo = _best(models, xa[others], ya[others], min_width)
            if loo is None:
                continue
            r = math.log(ya[i]) - math.log(max(loo[0].predict(float(xa[i])), 1e-300))
            sigma = max(loo[0].rms, noise, 1e-6)
            z = abs(r) / sigma
            # A point at the tip has leverage: the others cannot predict it, yet the full
            # fit passes through it.  An outlier is missed by both.
            if abs(float(full[i])) < 0.5 * reject_sigma * sigma:
                continue
            if z > worst_z:
                worst, worst_z = int(i), z
        if worst < 0 or worst_z <= reject_sigma:
            break
        keep[worst] = False
        rejected.append(float(xa[worst]))
        best = _best(models, xa[keep], ya[keep], min_width)
    if best is None:
        return None
    fit = best[0]
    return _with_rms(fit, fit.rms, tuple(rejected))
