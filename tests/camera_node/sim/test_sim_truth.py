"""Truth for tests and benchmarks: the best position of a region, and the blur there."""

from __future__ import annotations

import numpy as np
import pytest

from camera_node.sim.optics import blur_rate_px, live_view
from camera_node.sim.truth import best_position_at, weighted_median
from tests.camera_node.sim.sim_helpers import open_test_sim


def test_region_of_interest_decides_where_focus_belongs() -> None:
    sim, _, _ = open_test_sim("tabletop")
    assert sim.best_position((0.6, 0.45, 0.2, 0.3)) == 430  # the cup
    assert sim.best_position((0.15, 0.6, 0.2, 0.25)) == 210  # the coins
    assert sim.best_position((0.05, 0.05, 0.3, 0.3)) == 650  # the wall


def test_depth_map_scene_gives_a_weighted_median_inside_its_range() -> None:
    sim, _, _ = open_test_sim("moto")
    best = sim.best_position((0.3, 0.5, 0.2, 0.2))
    assert 140 <= best <= 660
    f = sim.renderer.focus_map(live_view(sim.spec.optics))
    region = f[320:448, 288:480]
    assert region.min() <= best <= region.max()


def test_weighted_median() -> None:
    assert weighted_median(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 10.0])) == 3.0
    assert weighted_median(np.array([5.0, 1.0]), np.array([0.0, 0.0])) in (1.0, 5.0)


def test_blur_px_is_linear_in_defocus_for_the_view() -> None:
    sim, _, _ = open_test_sim("chart")
    view = live_view(sim.spec.optics, 10, (0.5, 0.5))
    rate = blur_rate_px(sim.spec.optics, view)
    assert sim.blur_px(400, view) == 0.0
    assert sim.blur_px(410, view) == pytest.approx(10 * rate)
    assert sim.blur_px(390, view) == pytest.approx(10 * rate)


def test_roi_outside_the_view_is_refused() -> None:
    sim, _, _ = open_test_sim("chart")
    with pytest.raises(ValueError):
        sim.best_position((0.9, 0.9, 0.5, 0.5))


def test_truth_sampled_as_a_magnified_view() -> None:
    """On one plane the sampling does not matter; on a region that spans depth it does, and
    by how much says how well the truth is defined (moto: the lower left spans 297-484)."""
    sim, _, _ = open_test_sim("tabletop")
    assert best_position_at(sim, (0.6, 0.45, 0.2, 0.2), 5) == 430
    moto, _, _ = open_test_sim("moto")
    roi = (0.1, 0.6, 0.2, 0.2)
    assert best_position_at(moto, roi, 1) == pytest.approx(moto.best_position(roi), abs=0.5)
    assert abs(best_position_at(moto, roi, 5) - moto.best_position(roi)) > 20
    with pytest.raises(ValueError):
        best_position_at(moto, (0.9, 0.9, 0.5, 0.5), 5)
