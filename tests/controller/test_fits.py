"""controller.search.fits: each model recovers a known peak; outliers; the reading; bad input."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from controller.search import fits

X = np.arange(-32.0, 33.0, 6.4)
Curve = Callable[[np.ndarray], np.ndarray]


def _gauss(d: np.ndarray) -> np.ndarray:
    return np.exp(-d * d / (2 * 15.0**2))


def _lorentz(d: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + (d / 10.0) ** 2)


def _vee(d: np.ndarray) -> np.ndarray:
    return 1.0 / (0.2 + np.sqrt(9.0 + d * d))


def _parab(d: np.ndarray) -> np.ndarray:
    return 2.0 - (d / 40.0) ** 2


# (curve, the model that should win, true centre)
GOLDEN = [
    (_gauss, "gaussian", 3.3),
    (_lorentz, "lorentzian", -5.0),
    (_vee, "hyperbola", 7.1),
    (_parab, "parabola", 0.7),
]


@pytest.mark.parametrize(("curve", "model", "center"), GOLDEN)
def test_each_model_recovers_its_own_curve(curve: Curve, model: str, center: float) -> None:
    y = curve(X - center)
    fit = fits.fit_peak(X, y)
    assert fit is not None
    assert fit.model == model
    assert fit.center == pytest.approx(center, abs=0.05)
    assert fit.peak == pytest.approx(float(curve(np.array([0.0]))[0]), rel=0.01)
    assert fit.rms < 3e-3 and fit.rejected == ()  # the hyperbola's grid search limits it


@pytest.mark.parametrize(("curve", "model", "center"), GOLDEN)
def test_noisy_curves_stay_close(curve: Curve, model: str, center: float) -> None:
    rng = np.random.default_rng(7)
    y = curve(X - center) * (1 + 0.01 * rng.standard_normal(X.size))
    fit = fits.fit_peak(X, y)
    assert fit is not None
    assert abs(fit.center - center) < 1.0
    assert fit.rms < 0.02


@pytest.mark.parametrize("index", [1, 3, 7])
def test_one_outlier_is_rejected(index: int) -> None:
    y = _lorentz(X - 2.0)
    y[index] *= 1.4
    fit = fits.fit_peak(X, y)
    assert fit is not None
    assert fit.rejected == (pytest.approx(X[index]),)
    assert fit.center == pytest.approx(2.0, abs=0.1)


def test_clean_points_at_the_tip_are_not_outliers() -> None:
    # A sharp V: the samples around the tip cannot be predicted by the others, yet fit.
    y = _vee(X - 0.4)
    fit = fits.fit_peak(X, y)
    assert fit is not None and fit.rejected == ()


def test_no_peak_gives_none() -> None:
    y = np.exp(X / 20.0)  # monotonic: no model has a peak inside
    fit = fits.fit_peak(X, y, models=("gaussian", "parabola"))
    assert fit is None or not (X[0] < fit.center < X[-1])
    valley = 1.0 + (X / 20.0) ** 2
    assert fits.fit_peak(X, valley, models=("gaussian", "lorentzian", "parabola")) is None


def test_a_log_straight_line_gives_none_not_an_overflow() -> None:
    """Three coarse samples rising at an almost constant ratio (from a synthetic run that
    started near the end stop): the log-parabola's vertex lies so far out that its top
    overflows a float.  That is no peak, and the search must not crash on it."""
    x = [0.0, 47.0, 94.0]
    y = [0.24954349687664448, 0.3093900089442931, 0.3835773058755074]
    assert fits.fit_peak(x, y, models=("gaussian",), max_reject=0) is None


@pytest.mark.parametrize("model", fits.MODELS)
def test_offset_for_inverts_predict(model: str) -> None:
    fit = fits.Fit(model, 10.0, 2.0, 5.0, slope=0.3)
    for d in (0.0, 0.5, 2.0, 4.5):
        assert fit.offset_for(fit.predict(10.0 + d)) == pytest.approx(d, abs=1e-6)
        assert fit.offset_for(fit.predict(10.0 - d)) == pytest.approx(d, abs=1e-6)
    assert fit.offset_for(fit.peak * 1.2) == 0.0


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1.0, 2.0], [1.0, 2.0], "at least 3"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "same length"),
        ([1.0, 2.0, 3.0], [1.0, 0.0, 2.0], "positive"),
        ([1.0, 2.0, 3.0], [1.0, math.nan, 2.0], "positive"),
    ],
)
def test_bad_input(x: list[float], y: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fits.fit_peak(x, y)


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        fits.fit_peak([1, 2, 3], [1, 2, 1], models=("spline",))


def test_a_peak_far_narrower_than_the_samples_is_no_candidate() -> None:
    # af-refocus's "coffee cup rim, drift +17": the first search's fine samples, 12.8 steps
    # apart around a magnified peak about 9 wide.  The hyperbola through them is 0.34 wide
    # and 1.65 times higher than the best sample; the refocus, whose own samples could
    # never show such a top, took the scene for another.  With ``min_width`` (a quarter of
    # the spacing) the same model is 11 wide and tops out just above the best sample.
    xs = [484.09, 496.58, 508.02, 520.43, 533.26]
    ys = [0.011075, 0.019724, 0.016246, 0.0090247, 0.0062968]
    models = ("hyperbola", "lorentzian", "gaussian")
    free = fits.fit_peak(xs, ys, noise=0.005, models=models)
    floored = fits.fit_peak(xs, ys, noise=0.005, models=models, min_width=3.2)
    assert free is not None and floored is not None
    assert free.width < 1.0 and free.peak > 1.6 * max(ys), free
    assert floored.width >= 3.2 and floored.peak < 1.1 * max(ys), floored
    assert abs(floored.center - free.center) < 1.0  # the top's place hardly moves
