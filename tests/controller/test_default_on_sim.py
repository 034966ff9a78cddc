"""``default`` on the simulated camera, in virtual time: the runs that found its faults.

Each case was a failure of ``bench af`` on random starts (controller/bench/cases/
af-stress.toml, and bench pipeline's region from 654); each test runs it with the fix and
without it, so it shows what the fix is for.
"""

from __future__ import annotations

from controller.bench.cases import Case
from controller.bench.harness import run_case
from tests.controller.test_bench import SHIPPED

SCENES = SHIPPED.parents[3] / "camera_node" / "sim" / "scenes"

# bench pipeline's 256-pixel centre region on the chart, from 654 (repeat 1: seed 2)
CHART = Case("chart 256px @654", str(SCENES / "chart.toml"), (0.3667, 0.3, 0.2667, 0.4), 654, 1, None)
# af-stress.toml's "tabletop top strip @110"
STRIP = Case("tabletop top strip @110", str(SCENES / "tabletop.toml"), (0.05, 0.02, 0.9, 0.15), 110, 1, 411)


def test_a_false_coarse_top_on_the_chart_resumes_the_climb() -> None:
    # Far out of focus the disk's sidelobes over the chart's bars make a hump at 1x that
    # the climb brackets; the magnified scan then rises over its whole window.
    r = run_case(CHART, 1, "default")
    assert r.success and r.metrics["resumed"] == 1.0, r
    old = run_case(CHART, 1, "default", options={"resume_rise": 0.0})
    assert not old.success and old.failure == "no_peak", old


def test_a_magnified_peak_the_1x_curve_denies_is_not_reported() -> None:
    # The climb brackets a hump 540 steps from the wall; magnified there, the scan chases
    # a drift of the noise floor and fits a 16 % bump.  The 1x samples deny it.
    r = run_case(STRIP, 0, "default")
    assert r.success and r.metrics["resumed"] == 1.0, r
    old = run_case(STRIP, 0, "default", options={"check_coarse": False})
    assert old.failure is None and old.abs_error_steps > 100, old  # reported Done, far off
