"""``calibrate``: a lens's direction asymmetry measured from the image (controller/search/calibrate.py).

The pure estimate is checked on golden tables; the machine on the scripted camera of
af_synthetic.py, whose lens has a known asymmetry, jitter, slack and end stops (the
recorded behaviour of Canon lenses that the simulator models; no Canon body is here).
"""

from __future__ import annotations

import math

import pytest

from controller.search import Done, Drive, Failed
from controller.search.calibrate import DISTANCE, TRIALS, Calibrate, estimate, estimate_increments
from protocol import CONTROLLER_COMMANDS
from tests.controller import af_synthetic as syn


@pytest.mark.parametrize(
    ("centres", "asymmetry", "se"),
    [
        # the peak falls on the ledger by a/2 per step travelled
        ([(0.0, 10.0), (1000.0, -10.0)], 0.04, math.nan),
        ([(0.0, 0.0), (500.0, -5.0), (1000.0, -10.0)], 0.02, 0.0),
        ([(0.0, 0.0), (700.0, 7.0), (1400.0, 14.0)], -0.02, 0.0),
        # increments of 0.03 and 0.05 over equal travel: 0.04, with their scatter
        ([(0.0, 0.0), (1000.0, -15.0), (2000.0, -40.0)], 0.04, math.sqrt(2 * 1000 * 0.01**2 / 2000)),
    ],
)
def test_the_estimate(centres: list[tuple[float, float]], asymmetry: float, se: float) -> None:
    est = estimate(centres)
    assert est.asymmetry == pytest.approx(asymmetry)
    assert est.travel == centres[-1][0] - centres[0][0]
    if math.isnan(se):
        assert math.isnan(est.se)
    else:
        assert est.se == pytest.approx(se, abs=1e-12)


@pytest.mark.parametrize("centres", [[], [(0.0, 1.0)], [(5.0, 1.0), (5.0, 2.0)]])
def test_the_estimate_needs_two_centres_apart(centres: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError, match="needs"):
        estimate(centres)


def test_the_estimate_of_either_side() -> None:
    # Trip k goes beyond the far side for even k: the increments into centres 2, 4 are the
    # far trips', into 1, 3 the near trips'.  Here the near trips drift twice as far.
    centres = [(0.0, 0.0), (100.0, -4.0), (200.0, -6.0), (300.0, -10.0), (400.0, -12.0)]
    assert estimate_increments(centres, 0) == pytest.approx(0.04)
    assert estimate_increments(centres, 1) == pytest.approx(0.08)
    assert estimate_increments(centres[:2], 0) is None


def _calibrate(cam: syn.SynthCamera) -> syn.Outcome:
    return syn.run(Calibrate(zoom_levels=cam.zoom_levels), cam, time_limit=300.0)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("asymmetry", [0.04, 0.0, -0.03])
def test_it_measures_the_lens(asymmetry: float, seed: int) -> None:
    # Seven round trips of 100 steps beyond focus, by turns either side, on a lens with 5 %
    # jitter per drive and a slack of 4: the jitter's random walk leaves about half a per
    # cent of error.
    cam = syn.SynthCamera(syn.lorentz(430.0), start=430.0, seed=seed, asymmetry=asymmetry)
    out = _calibrate(cam)
    assert isinstance(out.end, Done) and out.end.reason == "calibrated", out.end
    m = out.end.metrics
    assert m["asymmetry"] == pytest.approx(asymmetry, abs=0.015), m
    assert m["trials"] == 7.0 and m["calibration_travel"] > 1500
    assert all(d.level == 2 for d in out.commands if isinstance(d, Drive))  # level 3 jitters more
    assert abs(cam.position - 430.0) < 10  # left near focus


def test_a_region_without_a_peak_fails_flat_and_returns() -> None:
    cam = syn.SynthCamera(syn.flat(), start=400.0)
    out = _calibrate(cam)
    assert isinstance(out.end, Failed) and out.end.reason == "flat", out.end
    assert abs(cam.position - 400.0) < 15  # back where it began


def test_an_end_stop_on_the_way_is_caught() -> None:
    # Focus 60 steps from the far end stop: the far legs clip silently there (Canon), the
    # ledger goes wrong by tens of steps, and the peak seems to jump.  That is reported,
    # not taken for an asymmetry of 10 %.
    cam = syn.SynthCamera(syn.lorentz(740.0), start=740.0, seed=1)
    out = _calibrate(cam)
    assert isinstance(out.end, Failed) and out.end.reason == "poor_fit", out.end
    assert "end stop" in out.end.detail


@pytest.mark.parametrize("focus", [95.0, 118.0, 700.0])
def test_an_end_stop_on_one_side_is_caught(focus: float) -> None:
    # Focus 95-118 steps from the near end stop: the near trips (126 steps beyond focus)
    # clip there, the far ones do not, and their readings disagree; so beyond the far
    # side from 700.  Round trips that went both ways at once clipped alike on every trip
    # and reported a wrong asymmetry with a small error bar.
    cam = syn.SynthCamera(syn.lorentz(focus), start=focus, seed=2)
    out = _calibrate(cam)
    assert isinstance(out.end, Failed) and out.end.reason == "poor_fit", out.end
    assert "end stop" in out.end.detail


@pytest.mark.parametrize(
    ("options", "match"),
    [({"trials": 1}, "trials"), ({"samples": 3}, "samples"), ({"distance": 6.0}, "distance")],
)
def test_bad_options(options: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Calibrate(**options)  # type: ignore[arg-type]


def test_the_controller_command_has_the_same_defaults() -> None:
    # protocol/ holds no controller code, so its defaults are written out: they must agree.
    args = {a.name: a.default for a in CONTROLLER_COMMANDS["calibrate"].args}
    assert (args["trials"], args["distance"]) == (TRIALS, DISTANCE)
