"""The node's dead reckoning of the focus motor: when a move is over (``settled``).

Golden cases on the documented timing (camera_node.motion.MotionModel: 30 ms latency,
50 / 80 / 250 ms per level-1 / 2 / 3 drive, a 60 ms margin, 300 ms for a zoom to settle).
"""

from __future__ import annotations

import pytest

from camera_node.motion import MotionModel, MoveTracker


@pytest.mark.parametrize(
    ("level", "settle_at"),
    [(1, 0.01 + 0.03 + 0.05 + 0.06), (2, 0.01 + 0.03 + 0.08 + 0.06), (3, 0.01 + 0.03 + 0.25 + 0.06)],
)
def test_a_drive_settles_after_latency_duration_and_margin(level: int, settle_at: float) -> None:
    t = MoveTracker()
    t.accept(0.0)
    assert not t.settled(0.005)  # accepted, not yet issued
    t.drive_issued("far", level, 0.01)
    assert t.settle_at == pytest.approx(settle_at)
    assert not t.settled(settle_at - 1e-6)
    assert t.settled(settle_at)


def test_parts_of_one_drive_run_back_to_back() -> None:
    t = MoveTracker()
    t.accept(0.0, parts=2)
    t.drive_issued("far", 3, 0.0)  # the motor is busy until 0.28
    assert not t.settled(1.0)  # one part still to come
    t.drive_issued("far", 3, 0.1)  # starts when the first is done
    assert t.settle_at == pytest.approx(0.03 + 0.25 + 0.25 + 0.06)


def test_a_drive_right_after_a_zoom_leaves_the_zoom_settle_standing() -> None:
    """A short drive sent at once after a zoom would be over before the zoom is; frames in
    between may still show the old magnification, so they are not settled."""
    m = MotionModel()
    t = MoveTracker(m)
    t.accept(0.0, parts=1)
    t.zoom_issued(0.0)
    t.accept(0.005, parts=1)
    t.drive_issued("far", 2, 0.005)  # the motor is done at 0.115, plus the margin 0.175
    assert not t.settled(0.2)
    assert t.settle_at == pytest.approx(m.zoom_settle_s)
    assert t.settled(m.zoom_settle_s)
    # A drive that ends after the zoom has settled sets the time on its own.
    t.accept(1.0, parts=1)
    t.zoom_issued(1.0)
    t.accept(1.0, parts=1)
    t.drive_issued("near", 3, 1.0)
    assert t.settle_at == pytest.approx(1.0 + 0.03 + 0.25 + 0.06)
    t.accept(2.0, parts=1)
    t.zoom_issued(2.0)
    t.accept(2.0, parts=1)
    t.steps_issued(8, 2.0)  # a Nikon drive likewise
    assert t.settle_at == pytest.approx(2.0 + m.zoom_settle_s)


def test_the_settle_point_is_due_only_once_every_part_is_out_and_until_it_passes() -> None:
    t = MoveTracker()
    assert t.settle_due(0.0) is None  # nothing moved
    t.accept(0.0, parts=2)
    assert t.settle_due(0.0) is None  # a part still to go: its time is not known
    t.drive_issued("near", 2, 0.0)
    assert t.settle_due(0.05) is None
    t.drive_issued("near", 2, 0.1)
    due = 0.1 + 0.03 + 0.08 + 0.06
    assert t.settle_due(0.15) == pytest.approx(due)
    assert t.settle_due(due) is None  # settled then
    assert t.settled(due)


# ``travel``: where a frame read at t shows the motor, along its current move.  Frames show
# the lens frame_lag_s (40 ms) before they are read.
LAG = MotionModel().frame_lag_s


@pytest.mark.parametrize(
    ("read_at", "travel"),
    [
        (0.0, 0.0),  # before the drive: where the moves before it left the motor
        (0.01 + 0.03 + LAG, 0.0),  # the motor has just started
        (0.01 + 0.03 + 0.125 + LAG, 23.5),  # half way through a 250 ms level-3 drive
        (0.01 + 0.03 + 0.25 + LAG, 47.0),  # done
        (5.0, 47.0),
    ],
)
def test_travel_places_a_frame_along_a_drive(read_at: float, travel: float) -> None:
    t = MoveTracker()
    t.accept(0.0)
    t.drive_issued("far", 3, 0.01)
    assert t.travel(read_at) == pytest.approx(travel)


def test_travel_is_counted_from_where_the_moves_before_leave_the_motor() -> None:
    """A drive sent while the one before still runs: its frames are placed from where that
    one will end, so until then their travel is the way still to go, with the other sign."""
    t = MoveTracker()
    t.accept(0.0)
    t.drive_issued("near", 3, 0.0)  # 0.03-0.28, 47 near
    t.accept(0.2)
    t.drive_issued("near", 3, 0.2)  # queued: 0.28-0.53
    assert t.travel(0.155 + LAG) == pytest.approx(47.0 / 2)  # half way through the first
    assert t.travel(0.28 + LAG) == pytest.approx(0.0)
    assert t.travel(0.405 + LAG) == pytest.approx(-23.5)
    assert t.travel(1.0) == pytest.approx(-47.0)


def test_travel_of_a_nikon_drive_and_unknown_while_a_zoom_settles() -> None:
    m = MotionModel()
    t = MoveTracker(m)
    t.accept(0.0)
    t.steps_issued(-20, 0.0)  # 20 near over 0.25 s
    assert t.travel(1.0) == pytest.approx(-20.0)
    t.accept(1.0)
    t.zoom_issued(1.0)
    t.accept(1.0, parts=2)
    t.drive_issued("far", 3, 1.0)
    t.drive_issued("far", 3, 1.1)  # back to back: 1.03-1.53
    assert t.travel(1.0 + m.zoom_settle_s + LAG - 0.01) is None  # may show the old view
    assert t.travel(1.0 + m.zoom_settle_s + LAG) == pytest.approx((m.zoom_settle_s - 0.03) / 0.25 * 47.0)
