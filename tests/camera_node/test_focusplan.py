"""Pure planning: goto decomposition with the near-side approach, and end-stop detection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camera_node.focusplan import StillDetector, coarse, decompose, plan_goto

SIZES = (1.0, 6.4, 47.0)


def _travel(drives: Sequence[tuple[str, int]], start: float) -> float:
    pos = start
    for direction, level in drives:
        pos += (-1 if direction == "near" else 1) * SIZES[level - 1]
        pos = max(pos, 0.0)
    return pos


@pytest.mark.parametrize(
    ("distance", "levels"),
    [
        (0, []),
        (1, [1]),
        (6.4, [2]),
        (47, [3]),
        (100, [3, 3, 2]),
        (99, [3, 3, 1, 1, 1, 1, 1]),
        (3.4, [1, 1, 1]),
    ],
)
def test_decompose_golden(distance: float, levels: list[int]) -> None:
    assert decompose(distance, SIZES) == levels


@given(st.floats(0, 2000), st.floats(0, 2000))
def test_goto_lands_within_half_a_step_and_ends_toward_far(start: float, target: float) -> None:
    drives = plan_goto(start, target, SIZES)
    assert abs(_travel(drives, start) - target) <= 0.5 + 1e-6
    if drives and target > 0.5:  # the last leg is toward far, except onto the end stop
        assert drives[-1][0] == "far"
        # near legs come first, then only far legs: one reversal at most
        directions = [d for d, _ in drives]
        assert directions == sorted(directions, key=lambda d: d == "far")


def test_goto_toward_near_overshoots_then_approaches_from_near() -> None:
    drives = plan_goto(300, 100, SIZES, overscan=20)
    near = [lv for d, lv in drives if d == "near"]
    assert sum(SIZES[lv - 1] for lv in near) >= 200 + 20
    assert coarse(220, SIZES) == near


def test_still_detector_uses_the_noise_floor() -> None:
    det = StillDetector(needed=2, factor=3.0, min_change=0.001, min_drives=0)
    for n in (10000, 10050, 9990, 10020, 10500):  # ~0.5 % noise, one flicker outlier
        det.noise_frame(bytes(n))
    assert det.threshold == pytest.approx(3 * (50 / 10050 + 60 / 10050) / 2)  # median of 4
    assert not det.drive_frame(bytes(12000))  # moved: +20 %
    assert not det.drive_frame(bytes(12050))
    assert not det.drive_frame(bytes(14000))  # moved again
    assert not det.drive_frame(bytes(14010))
    assert det.drive_frame(bytes(14030))  # the last three frames within 1.6 %: the stop


def test_a_slow_drift_is_not_a_stop() -> None:
    det = StillDetector(needed=3, factor=3.0, min_drives=0)
    for _ in range(5):
        det.noise_frame(bytes(10000))
    det.noise.extend([0.002] * 4)  # noise floor 0.1 %: threshold 0.3 %
    sizes = [10000, 9975, 9950, 9925, 9900, 9875]  # each step 0.25 %, all one way
    assert not any(det.drive_frame(bytes(n)) for n in sizes)


def test_no_stop_before_the_minimum_drives() -> None:
    det = StillDetector(needed=1, min_drives=5)
    det.noise_frame(b"\xff\xd8same")
    results = [det.drive_frame(b"\xff\xd8same") for _ in range(6)]
    assert results == [False, False, False, False, True, True]
