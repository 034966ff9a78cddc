"""The gphoto2 backend's Canon and Nikon paths, against recorded configuration trees.

The trees are camera_node/recordings/canon_eos600d.json (a published `gphoto2
--list-all-config` of an EOS 600D, rlamarche/camera-toolbox issue #5) and nikon_dslr.json
(a published Nikon dump, mvmn/gp2srv issue #1); both files say exactly what was recorded
and what was added.  They are loaded into tests/camera_node/fakecam.py's RecordedCamera.
"""

from __future__ import annotations

import hashlib

import pytest

from camera_node.backends.base import (
    CAP_CAPTURE,
    CAP_CONFIG,
    CAP_FOCUS_LEVELS,
    CAP_FOCUS_STEPS,
    CAP_LIVEVIEW,
    CAP_ZOOM,
    BackendError,
)
from camera_node.backends.gpcamera import GPError
from camera_node.backends.gphoto2 import TOGGLE_GAP_S, GPhoto2Backend, map_gp_error
from camera_node.clock import VirtualClock
from tests.camera_node.fakecam import RecordedCamera


def _open(recording: str, **kw: object) -> tuple[GPhoto2Backend, RecordedCamera, VirtualClock]:
    clock = VirtualClock(100.0)
    cam = RecordedCamera(recording, clock)
    backend = GPhoto2Backend(cam, clock, **kw)  # type: ignore[arg-type]
    backend.open()
    return backend, cam, clock


def _sets(cam: RecordedCamera, name: str) -> list[tuple[object, float]]:
    return [(c[2], c[3]) for c in cam.calls if c[0] == "set" and c[1] == name]


# ---------------------------------------------------------------------- Canon


def test_canon_describes_the_body_and_its_capabilities() -> None:
    backend, _cam, _ = _open("canon_eos600d.json")
    info = backend.info
    assert (info.make, info.model) == ("Canon Inc.", "Canon EOS 600D")
    assert info.serial == "0123456789abcdef0123456789abcdef"
    assert info.capabilities == {CAP_LIVEVIEW, CAP_FOCUS_LEVELS, CAP_ZOOM, CAP_CAPTURE, CAP_CONFIG}
    assert info.zoom_levels == (1, 5, 10)


def test_canon_liveview_sets_viewfinder_then_reads_a_frame() -> None:
    backend, cam, _ = _open("canon_eos600d.json")
    backend.liveview_start()
    assert ("viewfinder", 1) in cam.applied
    jpeg, w, h = backend.preview()
    assert (w, h) == (96, 64) and jpeg == cam.frame  # the bytes, untouched
    backend.liveview_stop()
    assert cam.applied[-1] == ("viewfinder", 0)


def test_canon_drive_is_none_pause_target_every_time() -> None:
    backend, cam, _ = _open("canon_eos600d.json")
    backend.liveview_start()
    backend.focus_drive("far", 2)
    backend.focus_drive("far", 2)  # the same value again: needs the None toggle to count
    sets = _sets(cam, "manualfocusdrive")
    # Live view start leaves the widget at "None", and so does every drive.
    assert [v for v, _ in sets] == ["None", "Far 2", "None", "Far 2", "None"]
    assert sets[1][1] - sets[0][1] == pytest.approx(TOGGLE_GAP_S)
    assert sets[3][1] - sets[2][1] == pytest.approx(TOGGLE_GAP_S)  # back to back: the full pause
    drives = [v for n, v in cam.applied if n == "manualfocusdrive" and v != "None"]
    assert drives == ["Far 2", "Far 2"]  # both reached the body


def test_canon_drive_after_the_pause_has_passed_goes_out_at_once() -> None:
    backend, cam, clock = _open("canon_eos600d.json")
    backend.liveview_start()
    clock.advance(1.0)
    backend.focus_drive("far", 3)  # live view start set "None" a second ago: no pause
    clock.advance(0.04)
    backend.focus_drive("far", 3)  # 40 ms after the "None": waits the other 60 ms
    clock.advance(0.5)
    t = clock.now()
    backend.focus_drive("far", 3)  # long after: no pause, no second "None"
    sets = _sets(cam, "manualfocusdrive")
    assert [v for v, _ in sets] == ["None", "Far 3", "None", "Far 3", "None", "Far 3", "None"]
    assert sets[1][1] == 101.0
    assert sets[3][1] - sets[2][1] == pytest.approx(TOGGLE_GAP_S)
    assert sets[5][1] == t
    drives = [v for n, v in cam.applied if n == "manualfocusdrive" and v != "None"]
    assert drives == ["Far 3"] * 3


def test_canon_drive_after_a_config_set_of_the_widget_toggles_again() -> None:
    backend, cam, clock = _open("canon_eos600d.json")
    backend.liveview_start()
    backend.focus_drive("near", 1)
    backend.config_set("manualfocusdrive", "Near 1")  # a client left it on a value
    clock.advance(1.0)
    backend.focus_drive("near", 1)
    sets = _sets(cam, "manualfocusdrive")
    assert [v for v, _ in sets][-3:] == ["None", "Near 1", "None"]
    assert sets[-2][1] - sets[-3][1] == pytest.approx(TOGGLE_GAP_S)


@pytest.mark.parametrize(
    ("direction", "level", "value"),
    [
        ("near", 1, "Near 1"),
        ("near", 2, "Near 2"),
        ("near", 3, "Near 3"),
        ("far", 1, "Far 1"),
        ("far", 3, "Far 3"),
    ],
)
def test_canon_drive_values(direction: str, level: int, value: str) -> None:
    backend, cam, _ = _open("canon_eos600d.json")
    backend.liveview_start()
    backend.focus_drive(direction, level)  # type: ignore[arg-type]
    assert [v for v, _ in _sets(cam, "manualfocusdrive")][-2:] == [value, "None"]


def test_canon_drive_outside_liveview_is_not_ready_and_touches_nothing() -> None:
    backend, cam, _ = _open("canon_eos600d.json")
    with pytest.raises(BackendError) as err:
        backend.focus_drive("near", 1)
    assert err.value.code == "not_ready"
    assert _sets(cam, "manualfocusdrive") == []


def test_canon_integer_steps_are_not_supported() -> None:
    backend, cam, _ = _open("canon_eos600d.json")
    backend.liveview_start()
    with pytest.raises(BackendError) as err:
        backend.focus_steps(10)
    assert err.value.code == "not_supported"
    assert [v for v, _ in _sets(cam, "manualfocusdrive")] == ["None"]  # from live view start only


def test_canon_zoom_sets_eoszoom_and_a_clamped_position_in_sensor_pixels() -> None:
    backend, cam, _ = _open("canon_eos600d.json", sensor_size=(5184, 3456))
    backend.liveview_start()
    backend.zoom_set(5, (0.5, 0.5))
    assert _sets(cam, "eoszoom")[-1][0] == "5"
    # the magnified area is 1/5 of the sensor, centred: top-left at (2073.6, 1382.4)
    assert _sets(cam, "eoszoomposition")[-1][0] == "2074,1382"
    backend.zoom_set(10, (0.99, 0.0))  # kept inside the sensor
    assert _sets(cam, "eoszoomposition")[-1][0] == f"{5184 - 518},0"
    backend.zoom_set(1, None)
    assert _sets(cam, "eoszoom")[-1][0] == "1"


def test_capture_downloads_and_deletes() -> None:
    backend, cam, _ = _open("canon_eos600d.json")
    shot = backend.capture()
    assert shot.name == "IMG_0042.JPG" and shot.mime == "image/jpeg"
    assert hashlib.sha256(shot.data).digest() == hashlib.sha256(cam.capture_data).digest()
    assert cam.deleted == ["/store_00020001/DCIM/100CANON/IMG_0042.JPG"]
    assert backend.sensor_size == (300, 200)  # learnt from the capture


# ---------------------------------------------------------------------- configuration


def test_config_list_has_types_choices_and_paths() -> None:
    backend, _cam, _ = _open("canon_eos600d.json")
    items = {i.name: i for i in backend.config_list()}
    mfd = items["manualfocusdrive"]
    assert mfd.type == "radio" and mfd.path == "/main/actions/manualfocusdrive"
    assert mfd.choices == ("Near 1", "Near 2", "Near 3", "None", "Far 1", "Far 2", "Far 3")
    assert items["serialnumber"].readonly
    assert items["viewfinder"].type == "toggle"


def test_config_set_checks_type_choices_and_readonly() -> None:
    backend, cam, _ = _open("canon_eos600d.json")
    assert backend.config_set("iso", "400").value == "400"
    assert backend.config_set("iso", 800).value == "800"  # a number for a menu of numbers
    for name, value in [
        ("iso", "123"),
        ("iso", True),
        ("serialnumber", "x"),
        ("uilock", "yes"),
        ("opcode", [1]),
    ]:
        with pytest.raises(BackendError) as err:
            backend.config_set(name, value)
        assert err.value.code == "bad_args", (name, value)
    with pytest.raises(BackendError) as err:
        backend.config_get("nosuchwidget")
    assert err.value.code == "not_found"
    assert cam.widgets["iso"].value == "800"


# ---------------------------------------------------------------------- Nikon


def test_nikon_integer_steps() -> None:
    backend, cam, _ = _open("nikon_dslr.json")
    assert CAP_FOCUS_STEPS in backend.info.capabilities
    assert CAP_FOCUS_LEVELS not in backend.info.capabilities
    assert CAP_ZOOM not in backend.info.capabilities  # no eoszoom on this body
    backend.liveview_start()
    assert ("viewfinder", 1) in cam.applied
    start = cam.position
    backend.focus_steps(-120)
    backend.focus_steps(-120)  # a RANGE value: the same number twice still drives
    assert cam.position == start - 240
    assert [v for v, _ in _sets(cam, "manualfocusdrive")] == [-120.0, -120.0]
    with pytest.raises(BackendError) as err:
        backend.focus_steps(40000)
    assert err.value.code == "bad_args"
    with pytest.raises(BackendError) as err:
        backend.focus_drive("near", 1)
    assert err.value.code == "not_supported"
    with pytest.raises(BackendError) as err:
        backend.zoom_set(5, None)
    assert err.value.code == "not_supported"


def test_nikon_end_stop_is_a_camera_error() -> None:
    backend, cam, _ = _open("nikon_dslr.json")
    backend.liveview_start()
    with pytest.raises(BackendError) as err:
        backend.focus_steps(-10000)
    assert err.value.code == "camera_error"
    assert cam.position == 0.0


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("code", "mapped"),
    [
        (-6, "not_supported"),
        (-7, "camera_lost"),
        (-52, "camera_lost"),
        (-110, "busy"),
        (-10, "timeout"),
        (-1, "camera_error"),
        (-113, "camera_error"),
    ],
)
def test_error_mapping(code: int, mapped: str) -> None:
    assert map_gp_error(GPError(code), "x").code == mapped
    backend, cam, _ = _open("canon_eos600d.json")
    backend.liveview_start()
    cam.fail_next = code
    with pytest.raises(BackendError) as err:
        backend.preview()
    assert err.value.code == mapped


def test_preview_not_supported_drops_the_capability() -> None:
    backend, cam, _ = _open("canon_eos600d.json")
    cam.remove("viewfinder")  # a body without the toggle: the first frame is the probe
    backend.open()
    cam.fail_next = -6
    with pytest.raises(BackendError) as err:
        backend.liveview_start()
    assert err.value.code == "not_supported"
    assert CAP_LIVEVIEW not in backend.info.capabilities
