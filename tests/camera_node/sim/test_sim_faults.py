"""Each injectable fault, seen through the facade as libgphoto2 would report it."""

from __future__ import annotations

import pytest

from camera_node.backends.gpcamera import (
    GP_CAPTURE_IMAGE,
    GP_ERROR_CAMERA_BUSY,
    GP_ERROR_IO,
    GP_ERROR_MODEL_NOT_FOUND,
    GPError,
)
from tests.camera_node.sim.sim_helpers import drive, open_test_sim, start_liveview


def test_usb_disconnect_fails_every_call_with_io_until_replugged() -> None:
    sim, cam, clock = open_test_sim()
    start_liveview(cam, clock, sim)
    cam.capture_preview()
    sim.usb_disconnect()
    calls = [
        cam.capture_preview,
        cam.get_config,
        lambda: cam.get_single_config("viewfinder"),
        lambda: cam.capture(GP_CAPTURE_IMAGE),
        cam.get_summary,
        lambda: drive(cam, "Far 1"),
    ]
    for call in calls:
        with pytest.raises(GPError) as exc:
            call()
        assert exc.value.code == GP_ERROR_IO
    with pytest.raises(GPError) as exc:
        cam.init()
    assert exc.value.code == GP_ERROR_MODEL_NOT_FOUND
    sim.replug()
    cam.init()
    assert cam.get_single_config("viewfinder").get_value() == 0  # live view is off again
    assert cam.capture_preview().get_data_and_size()


def test_frozen_frames_repeat_the_last_jpeg() -> None:
    sim, cam, clock = open_test_sim()
    sim.freeze_frames(True)
    first = bytes(cam.capture_preview().get_data_and_size())
    start = sim.true_position()
    drive(cam, "Far 3")
    clock.advance(1)
    assert bytes(cam.capture_preview().get_data_and_size()) == first
    assert sim.true_position() != start
    sim.freeze_frames(False)
    assert bytes(cam.capture_preview().get_data_and_size()) != first


def test_dropped_frames_cost_whole_frame_periods() -> None:
    sim, cam, clock = open_test_sim()
    cam.capture_preview()
    sim.drop_frames(0.5)
    t0 = clock.now()
    n = 200
    for _ in range(n):
        cam.capture_preview()
    periods = (clock.now() - t0) * sim.spec.stream.fps
    assert periods == pytest.approx(round(periods), abs=1e-6)
    assert 1.6 * n < periods < 2.4 * n  # half the frames lost: about two periods per frame


def test_slow_frames_add_their_delay() -> None:
    sim, cam, clock = open_test_sim()
    cam.capture_preview()
    sim.slow_frames(0.3)
    t0 = clock.now()
    cam.capture_preview()
    assert clock.now() - t0 == pytest.approx(1 / 25 + 0.3, abs=1e-6)


def test_busy_camera_refuses_with_busy_then_recovers() -> None:
    sim, cam, clock = open_test_sim()
    start_liveview(cam, clock, sim)
    sim.busy(True)
    for call in (cam.capture_preview, lambda: drive(cam, "Far 1"), lambda: cam.capture(GP_CAPTURE_IMAGE)):
        with pytest.raises(GPError) as exc:
            call()
        assert exc.value.code == GP_ERROR_CAMERA_BUSY
    assert cam.get_single_config("viewfinder").get_value() == 1  # reading config still works
    sim.busy(False)
    drive(cam, "Far 1")
    cam.capture_preview()
