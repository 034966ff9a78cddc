"""SimGPCamera: the gphoto2 face of the simulated body, with Canon's behaviour."""

from __future__ import annotations

import inspect
import itertools
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from camera_node.backends.gpcamera import (
    GP_CAPTURE_IMAGE,
    GP_ERROR,
    GP_ERROR_BAD_PARAMETERS,
    GP_ERROR_CAMERA_ERROR,
    GP_FILE_TYPE_NORMAL,
    GP_WIDGET_RADIO,
    GP_WIDGET_RANGE,
    GP_WIDGET_SECTION,
    GP_WIDGET_TEXT,
    GP_WIDGET_TOGGLE,
    GP_WIDGET_WINDOW,
    GPCamera,
    GPError,
    GPWidget,
)
from camera_node.sim.camera import ZOOM_SWITCH_S, SimCamera
from camera_node.sim.facade import MFD_CHOICES, SimGPCamera
from camera_node.sim.optics import View
from camera_node.sim.widgets import SimWidget
from tests.camera_node.sim.sim_helpers import drive, edge_scene, open_test_sim, start_liveview


def _jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(BytesIO(data)) as im:
        assert im.format == "JPEG"
        return im.size


def test_facade_has_every_gpcamera_and_gpwidget_method_with_matching_arity() -> None:
    for proto, cls in ((GPCamera, SimGPCamera), (GPWidget, SimWidget)):
        for name, member in inspect.getmembers(proto, inspect.isfunction):
            if name.startswith("_"):
                continue
            impl = getattr(cls, name)
            assert len(inspect.signature(impl).parameters) == len(inspect.signature(member).parameters), name


def test_config_tree_looks_like_a_canon_eos() -> None:
    _, cam, _ = open_test_sim()
    root = cam.get_config()
    assert root.get_type() == GP_WIDGET_WINDOW
    sections = {root.get_child(i).get_name() for i in range(root.count_children())}
    assert sections == {"actions", "settings", "status", "imgsettings", "capturesettings"}
    for i in range(root.count_children()):
        assert root.get_child(i).get_type() == GP_WIDGET_SECTION
    mfd = cam.get_single_config("manualfocusdrive")
    assert mfd.get_type() == GP_WIDGET_RADIO
    assert tuple(mfd.get_choice(i) for i in range(mfd.count_choices())) == MFD_CHOICES
    assert mfd.get_value() == "None"
    assert cam.get_single_config("viewfinder").get_type() == GP_WIDGET_TOGGLE
    zoom = cam.get_single_config("eoszoom")
    assert [zoom.get_choice(i) for i in range(zoom.count_choices())] == ["1", "5", "10"]
    assert cam.get_single_config("eoszoomposition").get_type() == GP_WIDGET_TEXT
    assert cam.get_single_config("manufacturer").get_value() == "Canon Inc."
    assert "Canon EOS" in cam.get_single_config("cameramodel").get_value()
    serial = cam.get_single_config("serialnumber")
    assert serial.get_readonly() == 1 and serial.get_value()
    for name in ("capturetarget", "f-number", "shutterspeed", "iso", "batterylevel", "lensname"):
        assert root.get_child_by_name(name).get_name() == name
    assert root.get_child_by_name("manualfocusdrive").path() == "/main/actions/manualfocusdrive"
    with pytest.raises(GPError) as exc:
        cam.get_single_config("nosuchthing")
    assert exc.value.code == GP_ERROR_BAD_PARAMETERS


def test_no_drive_outside_live_view() -> None:
    sim, cam, clock = open_test_sim()
    before = sim.true_position()
    with pytest.raises(GPError) as exc:
        drive(cam, "Far 3")
    assert exc.value.code == GP_ERROR
    clock.advance(1)
    assert sim.true_position() == before


def test_live_view_waits_for_the_mirror() -> None:
    sim, cam, clock = open_test_sim()
    w = cam.get_single_config("viewfinder")
    w.set_value(1)
    cam.set_single_config("viewfinder", w)
    assert cam.get_single_config("viewfinder").get_value() == 1
    with pytest.raises(GPError):
        drive(cam, "Far 1")  # mirror still going up
    t0 = clock.now()
    cam.capture_preview()
    assert clock.now() - t0 == pytest.approx(sim.spec.stream.mirror_up_s, abs=1e-6)


def test_capture_preview_starts_live_view_like_libgphoto2() -> None:
    sim, cam, clock = open_test_sim()
    data = bytes(cam.capture_preview().get_data_and_size())
    assert _jpeg_size(data) == (960, 640)
    assert clock.now() >= sim.spec.stream.mirror_up_s
    assert cam.get_single_config("viewfinder").get_value() == 1


def test_frames_come_at_the_frame_rate_in_virtual_time() -> None:
    sim, cam, clock = open_test_sim()
    cam.capture_preview()
    times = []
    for _ in range(10):
        cam.capture_preview()
        times.append(clock.now())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g == pytest.approx(1 / sim.spec.stream.fps) for g in gaps)
    clock.advance(0.013)  # a slow consumer gets the next frame on the grid
    cam.capture_preview()
    assert (clock.now() - sim.live_ready_at) * 25 == pytest.approx(
        round((clock.now() - sim.live_ready_at) * 25)
    )


def test_none_toggle_quirk() -> None:
    sim, cam, clock = open_test_sim()
    start_liveview(cam, clock, sim)
    sim.motor.p = sim.motor.p.__class__(jitter=0, skip_probability=0, asymmetry=0, backlash=0)
    p0 = sim.true_position()
    drive(cam, "Far 2")
    clock.advance(0.5)
    p1 = sim.true_position()
    assert p1 == pytest.approx(p0 + 6.4)
    drive(cam, "Far 2")  # same value again: nothing happens
    clock.advance(0.5)
    assert sim.true_position() == pytest.approx(p1)
    # The same widget object reused behaves the same way.
    w = cam.get_single_config("manualfocusdrive")
    w.set_value("Far 2")
    cam.set_single_config("manualfocusdrive", w)
    clock.advance(0.5)
    assert sim.true_position() == pytest.approx(p1)
    drive(cam, "None")
    clock.advance(0.1)
    drive(cam, "Far 2")
    clock.advance(0.5)
    assert sim.true_position() == pytest.approx(p1 + 6.4)
    drive(cam, "Near 2")  # a different value counts at once
    clock.advance(0.5)
    assert sim.true_position() == pytest.approx(p1)


def test_set_config_applies_only_changed_widgets() -> None:
    sim, cam, clock = open_test_sim()
    start_liveview(cam, clock, sim)
    root = cam.get_config()
    root.get_child_by_name("f-number").set_value("8")
    cam.set_config(root)
    assert sim.f_number == 8.0
    assert cam.get_single_config("f-number").get_value() == "8"
    with pytest.raises(GPError):
        w = cam.get_single_config("iso")
        w.set_value("123")
        cam.set_single_config("iso", w)


def test_frames_show_intermediate_positions_during_a_move() -> None:
    sim, cam, clock = open_test_sim()
    start_liveview(cam, clock, sim)
    cam.capture_preview()
    start = sim.true_position()
    drive(cam, "Far 3")
    positions = []
    for _ in range(10):
        cam.capture_preview()
        assert sim.last_frame is not None
        positions.append(sim.last_frame.position)
    end = sim.true_position()
    inside = [p for p in positions if start + 1 < p < end - 1]
    assert len(inside) >= 3  # 250 ms of motion at 25 fps
    assert positions == sorted(positions)


def test_a_frame_shows_the_lens_lag_s_before_its_moment() -> None:
    """Exposure and the body's processing: a frame read while the motor moves shows where
    the lens was ``stream.lag_s`` (40 ms) earlier, not where it is."""
    sim, cam, clock = open_test_sim()
    start_liveview(cam, clock, sim)
    cam.capture_preview()
    drive(cam, "Far 3")
    lag = sim.spec.stream.lag_s
    assert lag == pytest.approx(0.04)
    for _ in range(6):
        cam.capture_preview()
        frame = sim.last_frame
        assert frame is not None
        assert frame.position == pytest.approx(sim.motor.position(frame.t - lag))
        if frame.position != sim.motor.position(frame.t):
            break
    else:
        raise AssertionError("no frame was taken while the motor moved")


def test_zoom_needs_live_view_and_position_is_clamped_sensor_pixels() -> None:
    sim, cam, clock = open_test_sim()
    w = cam.get_single_config("eoszoom")
    w.set_value("5")
    with pytest.raises(GPError):
        cam.set_single_config("eoszoom", w)
    start_liveview(cam, clock, sim)
    cam.set_single_config("eoszoom", w)  # the failed set consumed the changed flag: a no-op
    assert sim.zoom == 1
    w = cam.get_single_config("eoszoom")
    w.set_value("5")
    cam.set_single_config("eoszoom", w)
    pos = cam.get_single_config("eoszoomposition")
    pos.set_value("99999,-5")
    cam.set_single_config("eoszoomposition", pos)
    assert cam.get_single_config("eoszoomposition").get_value() == "4800,0"  # 6000 - 6000 / 5
    view = sim.current_view()
    assert (view.zoom, view.x1, view.y0) == (5, pytest.approx(1.0), 0.0)
    bad = cam.get_single_config("eoszoomposition")
    bad.set_value("12")
    with pytest.raises(GPError) as exc:
        cam.set_single_config("eoszoomposition", bad)
    assert exc.value.code == GP_ERROR_BAD_PARAMETERS
    vf = cam.get_single_config("viewfinder")
    vf.set_value(0)
    cam.set_single_config("viewfinder", vf)
    assert cam.get_single_config("eoszoom").get_value() == "1"


def _closer_view(sim: SimCamera, jpeg: bytes, views: list[View], position: float) -> int:
    """Which of ``views`` a frame shows: the one whose noise-free render it is nearest."""
    got = np.asarray(Image.open(BytesIO(jpeg)).convert("L"), np.float64)
    errs = []
    for v in views:
        want = np.asarray(
            Image.open(BytesIO(sim.render_jpeg(position, v, noise=False))).convert("L"), np.float64
        )
        errs.append(float(np.abs(got - want).mean()))
    return int(np.argmin(errs))


def test_a_new_zoom_reaches_the_live_view_after_the_switch_time() -> None:
    """eoszoom takes ZOOM_SWITCH_S to reach the frames.  A frame before then shows the view
    before, while the new view's model is built on the renderer's background thread; one
    after shows the new view.  That model is the one built on the spot, bit for bit."""
    sim, cam, clock = open_test_sim("tabletop")
    start_liveview(cam, clock, sim)
    cam.capture_preview()
    one = sim.current_view()
    w = cam.get_single_config("eoszoom")
    w.set_value("5")
    cam.set_single_config("eoszoom", w)
    five = sim.current_view()
    t_set = clock.now()
    early = sim.body_preview()
    assert early.t < t_set + ZOOM_SWITCH_S
    assert _closer_view(sim, early.jpeg, [one, five], early.position) == 0
    clock.advance(ZOOM_SWITCH_S)
    late = sim.body_preview()
    assert late.t >= t_set + ZOOM_SWITCH_S
    assert _closer_view(sim, late.jpeg, [one, five], late.position) == 1
    # Only the latest view asked for is built ahead: another zoom before the switch drops
    # the first one's (a viewer clicking about must not pile up models).
    sim.renderer.prepare(sim.view_for(10, (0, 0)))
    sim.renderer.prepare(sim.view_for(10, (600, 400)))
    assert len(sim.renderer._pending) == 1
    # Built in the background or on the spot, the same frames.
    fresh, _, _ = open_test_sim("tabletop")
    for p in (150.0, 400.0):
        a, b = sim.renderer.render(five, p, 2.8), fresh.renderer.render(five, p, 2.8)
        assert np.array_equal(a.y, b.y) and np.array_equal(a.cb, b.cb)


def test_a_frame_is_never_returned_long_after_the_moment_it_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting a view up takes time (here the virtual clock moves on 0.3 s while a model is
    built, as on a slow machine).  The frame due meanwhile is dropped and the next one
    taken, so the frame returned shows the moment it is returned at: a node, which stamps a
    frame when it arrives, would otherwise take a frame of a moving motor for a settled one."""
    sim, cam, clock = open_test_sim("tabletop")
    start_liveview(cam, clock, sim)
    cam.capture_preview()
    build = sim.renderer.model

    def slow(view: View) -> object:
        built = sim.renderer.ready(view)
        model = build(view)
        if not built:
            clock.advance(0.3)
        return model

    monkeypatch.setattr(sim.renderer, "model", slow)
    w = cam.get_single_config("eoszoom")
    w.set_value("5")
    cam.set_single_config("eoszoom", w)
    clock.advance(ZOOM_SWITCH_S)
    asked = clock.now()
    frame = sim.body_preview()
    assert frame.t >= asked + 0.3  # exposed after the set-up
    assert clock.now() == pytest.approx(frame.t)  # and returned at once
    assert sim.renderer.ready(sim.current_view())


def test_capture_takes_latency_and_downloads_a_full_resolution_jpeg(tmp_path: Path) -> None:
    sim, cam, clock = open_test_sim(edge_scene(tmp_path, capture=(900, 600)))
    t0 = clock.now()
    path = cam.capture(GP_CAPTURE_IMAGE)
    assert clock.now() - t0 == pytest.approx(sim.capture_latency_s)
    assert path.name.endswith(".JPG")
    data = bytes(cam.file_get(path.folder, path.name, GP_FILE_TYPE_NORMAL).get_data_and_size())
    assert _jpeg_size(data) == (900, 600)
    cam.file_delete(path.folder, path.name)
    with pytest.raises(GPError):
        cam.file_get(path.folder, path.name, GP_FILE_TYPE_NORMAL)


def test_nikon_mode_signed_steps_and_end_stop_error() -> None:
    sim, cam, clock = open_test_sim(nikon=True)
    w = cam.get_single_config("manualfocusdrive")
    assert w.get_type() == GP_WIDGET_RANGE and tuple(w.get_range()) == (-32767.0, 32767.0, 1.0)
    start_liveview(cam, clock, sim)
    sim.set_true_position(20)
    w.set_value(-10)
    cam.set_single_config("manualfocusdrive", w)
    clock.advance(1)
    assert 8 < sim.true_position() < 12
    w = cam.get_single_config("manualfocusdrive")
    w.set_value(-100)
    with pytest.raises(GPError) as exc:
        cam.set_single_config("manualfocusdrive", w)
    assert exc.value.code == GP_ERROR_CAMERA_ERROR and "limit" in str(exc.value)
    clock.advance(1)
    assert sim.true_position() == 0.0
    w = cam.get_single_config("manualfocusdrive")
    w.set_value(-1)
    with pytest.raises(GPError):
        cam.set_single_config("manualfocusdrive", w)


def test_same_seed_same_bytes_different_seed_differs() -> None:
    def frames(seed: int) -> list[bytes]:
        sim, cam, clock = open_test_sim("tabletop", seed=seed)
        start_liveview(cam, clock, sim)
        out = []
        for value in ("Far 2", "None", "Far 1", "None", "Near 3"):
            drive(cam, value)
            out.append(bytes(cam.capture_preview().get_data_and_size()))
        out.append(str(sim.true_position()).encode())
        return out

    assert frames(3) == frames(3)
    assert frames(3) != frames(4)


def test_summary_and_exit() -> None:
    sim, cam, _ = open_test_sim()
    cam.init()
    assert "Canon" in cam.get_summary().text
    cam.capture_preview()
    cam.exit()
    assert not sim.liveview
