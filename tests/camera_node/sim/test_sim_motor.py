"""The focus motor: step sizes, jitter, skips, asymmetry, backlash, end stops, timing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera_node.sim.motor import Motor
from camera_node.sim.scene import MotorParams

QUIET = MotorParams(jitter=0.0, skip_probability=0.0, asymmetry=0.0, backlash=0.0, latency_s=0.0)


DEFAULT = MotorParams()


def _motor(params: MotorParams = DEFAULT, seed: int = 1) -> Motor:
    return Motor(params, np.random.default_rng(seed))


def _moves(m: Motor, direction: str, level: int, n: int, t: float = 0.0) -> list[float]:
    out = []
    for i in range(n):
        m.set_position(400)
        m._last_dir = direction  # type: ignore[assignment]  # no backlash for these samples
        r = m.drive_level(t + i * 10, direction, level)  # type: ignore[arg-type]
        out.append(abs(r.moved))
    return out


def test_step_size_ratios_match_canon_levels() -> None:
    m = _motor(replace(MotorParams(), skip_probability=0.0, asymmetry=0.0))
    means = [np.mean(_moves(m, "far", lv, 400)) for lv in (1, 2, 3)]
    assert means[1] / means[0] == pytest.approx(6.4, rel=0.02)
    assert means[2] / means[0] == pytest.approx(47, rel=0.02)


def test_jitter_is_five_percent_sigma() -> None:
    m = _motor(replace(MotorParams(), skip_probability=0.0, asymmetry=0.0), seed=3)
    sizes = np.array(_moves(m, "far", 2, 2000))
    assert np.std(sizes) / np.mean(sizes) == pytest.approx(0.05, rel=0.1)


def test_level_one_skips_about_three_percent_and_only_level_one() -> None:
    m = _motor(replace(MotorParams(), jitter=0.0), seed=5)
    l1 = np.array(_moves(m, "far", 1, 4000))
    assert (l1 == 0).mean() == pytest.approx(0.03, abs=0.01)
    l2 = np.array(_moves(m, "far", 2, 500))
    assert (l2 == 0).sum() == 0


def test_near_and_far_travel_differ_by_the_asymmetry() -> None:
    m = _motor(replace(MotorParams(), jitter=0.0, skip_probability=0.0), seed=1)
    far = np.mean(_moves(m, "far", 3, 10))
    near = np.mean(_moves(m, "near", 3, 10))
    assert far / near == pytest.approx(1.02 / 0.98, rel=1e-6)


def test_backlash_is_lost_on_every_reversal_only() -> None:
    m = _motor(replace(QUIET, backlash=4.0))
    m.set_position(400)
    m.drive_level(0, "far", 2)
    assert m.position(10) == pytest.approx(406.4)
    m.drive_level(10, "far", 2)
    assert m.position(20) == pytest.approx(412.8)  # same direction: no loss
    m.drive_level(20, "near", 2)
    assert m.position(30) == pytest.approx(412.8 - 2.4)  # reversal: 4 units of slack
    m.drive_level(30, "near", 1)
    assert m.position(40) == pytest.approx(410.4 - 1)
    m.drive_level(40, "far", 1)  # a level-1 reversal is swallowed by the slack
    assert m.position(50) == pytest.approx(409.4)


def test_a_move_shorter_than_the_slack_leaves_the_rest_for_the_next() -> None:
    """Backlash is a dead band: level-1 drives after a reversal move nothing until all of
    it is crossed, and turning back half way crosses only the part already crossed."""
    m = _motor(replace(QUIET, backlash=4.0))
    m.set_position(400)
    m.drive_level(0, "near", 2)
    assert m.position(10) == pytest.approx(393.6)
    for k in range(4):  # four units of slack, one per level-1 drive
        m.drive_level(10 + k, "far", 1)
        assert m.position(20 + k) == pytest.approx(393.6)
    m.drive_level(30, "far", 1)
    assert m.position(40) == pytest.approx(394.6)  # across: it moves
    m.drive_level(40, "near", 1)  # back into the band: 1 of 4 crossed
    m.drive_level(50, "far", 2)  # turning again crosses only that 1
    assert m.position(60) == pytest.approx(394.6 + 6.4 - 1.0)
    big = _motor(replace(QUIET, backlash=12.0))
    big.set_position(400)
    big.drive_level(0, "near", 3)
    big.drive_level(10, "far", 2)  # 6.4 of 12: nothing moves
    big.drive_level(20, "far", 2)  # the other 5.6, then 0.8 of travel
    assert big.position(30) == pytest.approx(400 - 47 + 0.8)


def test_motion_clips_silently_at_both_end_stops() -> None:
    m = _motor(QUIET)
    m.set_position(20)
    r = m.drive_level(0, "near", 3)
    assert m.position(10) == 0.0 and r.hit_limit and r.moved == pytest.approx(-20)
    m.set_position(790)
    m.drive_level(0, "far", 3)
    assert m.position(10) == 800.0


def test_full_travel_takes_hundreds_of_level_one_steps() -> None:
    m = _motor(MotorParams(), seed=9)
    m.set_position(0)
    n, t = 0, 0.0
    while m.position(t + 1) < 800 and n < 5000:
        m.drive_level(t, "far", 1)
        t += 1
        n += 1
    assert 700 < n < 950  # 800 units, minus skips' shortfall, plus asymmetry


def test_latency_then_duration_with_intermediate_positions() -> None:
    m = _motor(replace(QUIET, latency_s=0.03))
    m.set_position(400)
    m.drive_level(1.0, "far", 3)  # 47 units, 30 ms latency, 250 ms motion
    assert m.position(1.0) == 400 and m.position(1.029) == 400
    mid = m.position(1.03 + 0.125)
    assert mid == pytest.approx(423.5, abs=0.1)
    assert m.position(1.03 + 0.25) == pytest.approx(447)
    assert m.busy_until() == pytest.approx(1.28)


def test_after_a_reversal_the_lens_stands_while_the_gear_takes_up_the_slack() -> None:
    """The motor turns at its speed throughout; the lens does not move until the slack is
    crossed, then moves at that speed, and the drive ends when it would have anyway."""
    m = _motor(replace(QUIET, latency_s=0.03, backlash=4.0))
    m.set_position(400)
    m.drive_level(0.0, "far", 3)  # 0.03-0.28
    m.drive_level(1.0, "near", 3)  # 1.03-1.28: 4 units of slack first, at 188 units a second
    speed = 47 / 0.25
    assert m.position(1.03 + 0.5 * 4 / speed) == pytest.approx(447)  # still taking up slack
    assert m.position(1.03 + 4 / speed + 0.1) == pytest.approx(447 - 0.1 * speed)
    assert m.position(1.28) == pytest.approx(447 - 43)
    assert m.busy_until() == pytest.approx(1.28)


def test_a_position_a_little_before_the_last_one_asked_for_is_still_known() -> None:
    """A frame shows the lens ``lag_s`` before its moment, after something asked where it
    is now (the benchmark's trace did, between frames): the move is still remembered."""
    m = _motor(replace(QUIET, latency_s=0.03))
    m.set_position(400)
    m.drive_level(0.0, "far", 3)  # 0.03-0.28
    assert m.position(0.5) == pytest.approx(447)
    assert m.position(0.155) == pytest.approx(423.5)


def test_drives_queue_behind_each_other() -> None:
    m = _motor(replace(QUIET, latency_s=0.03))
    m.set_position(100)
    m.drive_level(0.0, "far", 3)
    m.drive_level(0.0, "far", 3)
    assert m.busy_until() == pytest.approx(0.03 + 0.5)
    assert m.position(0.03 + 0.25) == pytest.approx(147)
    assert m.position(1.0) == pytest.approx(194)


def test_nikon_steps_report_the_limit() -> None:
    m = _motor(QUIET)
    m.set_position(10)
    assert not m.drive_steps(0, -5).hit_limit
    assert m.drive_steps(1, -50).hit_limit
    assert m.position(5) == 0.0 and m.at_limit("near")


def test_same_seed_same_motion_different_seed_differs() -> None:
    def run(seed: int) -> list[float]:
        m = _motor(MotorParams(), seed)
        out = []
        for i in range(50):
            m.drive_level(i, "far" if i % 7 else "near", 1 + i % 3)
            out.append(m.position(i + 0.99))
        return out

    assert run(4) == run(4)
    assert run(4) != run(5)


@given(
    st.lists(st.tuples(st.sampled_from(["near", "far"]), st.integers(1, 3)), max_size=40),
    st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_position_always_within_range_and_monotonic_per_move(
    drives: list[tuple[str, int]], seed: int
) -> None:
    m = _motor(MotorParams(), seed)
    t = 0.0
    for direction, level in drives:
        before = m.position(t)
        m.drive_level(t, direction, level)  # type: ignore[arg-type]
        samples = [m.position(t + k * 0.02) for k in range(20)]
        assert all(0.0 <= s <= 800.0 for s in samples)
        diffs = np.diff([before, *samples])
        assert (diffs >= -1e-9).all() or (diffs <= 1e-9).all()
        t += 0.4


def test_displace_moves_the_resting_motor_and_keeps_its_gear() -> None:
    # (benchmarks: focus drifting while the motor holds; docs: controller/bench/cases.py)
    params = replace(QUIET, backlash=4.0)
    m = _motor(params)
    m.set_position(400)
    m.drive_level(0.0, "far", 2)  # the gear now engaged far: a far drive takes no slack
    with pytest.raises(ValueError, match="still moving"):
        m.displace(0.01, 10.0)
    m.displace(10.0, -25.0)
    assert m.position(10.0) == pytest.approx(400 + 6.4 - 25)
    assert m.drive_level(10.0, "far", 2).moved == pytest.approx(6.4)  # no slack: gear kept
    assert m.drive_level(20.0, "near", 2).moved == pytest.approx(-(6.4 - 4.0))  # the slack still there
    m.displace(30.0, 1e6)
    assert m.position(30.0) == params.range  # clipped at the end stop
