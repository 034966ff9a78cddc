"""The rig file: accepted forms, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.rig import (
    DEFAULT_ROI,
    SLACK_RUNS,
    CameraSpec,
    Rig,
    dump_rig,
    load_rig,
    parse_rig,
    slack_summary,
)
from tetherfocus.errors import UsageError


def test_minimal_rig() -> None:
    rig = parse_rig({"camera": [{"name": "cam1", "rep": "tcp://127.0.0.1:5556"}]})
    assert rig.cameras == (CameraSpec("cam1", "tcp://127.0.0.1:5556", None, DEFAULT_ROI),)


def test_full_rig_round_trips_through_dump(tmp_path: Path) -> None:
    rig = Rig(
        (
            CameraSpec(
                "a", "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", (0.1, 0.2, 0.3, 0.4), "0123", 7.5, -0.03
            ),
            CameraSpec("b-2", "tcp://[::1]:3"),
        ),
        "studio",
    )
    path = tmp_path / "rig.toml"
    path.write_text(dump_rig(rig))
    assert load_rig(path) == rig


def test_a_lens_backlash_reaches_the_default_search_only() -> None:
    rig = parse_rig(
        {"camera": [{"name": "a", "rep": "tcp://h:1", "backlash": 12}, {"name": "b", "rep": "tcp://h:2"}]}
    )
    a, b = rig.cameras
    assert a.backlash == 12.0 and b.backlash is None
    assert a.search_options("default") == {"backlash": 12.0, "cross_slack": 0.0}  # told: trusted
    assert a.search_options("sweep") == {} and b.search_options("default") == {}


def test_a_lens_direction_asymmetry_reaches_the_default_search_only() -> None:
    rig = parse_rig(
        {
            "camera": [
                {"name": "a", "rep": "tcp://h:1", "asymmetry": 0.04},
                {"name": "b", "rep": "tcp://h:2", "asymmetry": -0.02, "backlash": 4},
                {"name": "c", "rep": "tcp://h:3"},
            ]
        }
    )
    a, b, c = rig.cameras
    assert a.asymmetry == 0.04 and c.asymmetry is None
    assert a.search_options("default") == {"asymmetry": 0.04}  # the slack still crossed
    assert b.search_options("default") == {"backlash": 4.0, "cross_slack": 0.0, "asymmetry": -0.02}
    assert a.search_options("sweep") == {} and c.search_options("default") == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no [[camera]] tables"),
        ({"cameras": []}, "unknown key 'cameras'"),
        ({"camera": [{"rep": "tcp://h:1"}]}, "name must be"),
        ({"camera": [{"name": "a b", "rep": "tcp://h:1"}]}, "name must be"),
        ({"camera": [{"name": "a"}]}, "rep (the node's command endpoint) is required"),
        ({"camera": [{"name": "a", "rep": "localhost:1"}]}, "is not tcp://HOST:PORT"),
        ({"camera": [{"name": "a", "rep": "tcp://h:99999"}]}, "ports are 1 to 65535"),
        ({"camera": [{"name": "a", "rep": "tcp://h:*"}]}, "needs a port number to connect to"),
        ({"camera": [{"name": "a", "rep": "tcp://h:1", "roi": [0.1, 0.1, 0.005, 0.5]}]}, "at least 0.01"),
        ({"camera": [{"name": "a", "rep": "tcp://h:1", "zoom": 5}]}, "unknown key 'zoom'"),
        ({"camera": [{"name": "a", "rep": "tcp://h:1", "roi": [0.9, 0, 0.5, 0.5]}]}, "inside the view"),
        ({"camera": [{"name": "a", "rep": "tcp://h:1"}, {"name": "a", "rep": "tcp://h:2"}]}, "used twice"),
        (
            {"camera": [{"name": "a", "rep": "tcp://h:1"}, {"name": "b", "rep": "tcp://h:1"}]},
            "is camera 'a''s too",
        ),
        ({"camera": [{"name": "a", "rep": "tcp://h:1", "backlash": "4"}]}, "backlash must be a number"),
        ({"camera": [{"name": "a", "rep": "tcp://h:1", "backlash": True}]}, "backlash must be a number"),
        ({"camera": [{"name": "a", "rep": "tcp://h:1", "backlash": -1}]}, "backlash must lie within"),
        ({"camera": [{"name": "a", "rep": "tcp://h:1", "asymmetry": "4%"}]}, "asymmetry must be a number"),
        (
            {"camera": [{"name": "a", "rep": "tcp://h:1", "asymmetry": 4}]},
            "asymmetry must lie within [-0.2, 0.2]",
        ),
    ],
)
def test_mistakes_get_one_line(data: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_rig(data, "rig.toml")
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_rig(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[camera]\nname=")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_rig(bad)


def test_unknown_camera_names_the_known_ones() -> None:
    rig = parse_rig({"camera": [{"name": "left", "rep": "tcp://h:1"}, {"name": "right", "rep": "tcp://h:2"}]})
    with pytest.raises(UsageError, match="known: left, right"):
        rig.camera("middle")


@pytest.mark.parametrize(
    ("estimates", "summary"),
    [
        ([], None),
        ([7.2], {"steps": 7.2, "runs": 1}),
        ([3.0, 4.4, 3.8, 12.0], {"steps": 4.1, "runs": 4}),  # a median: one odd reading does not move it
        # only the last SLACK_RUNS count: a lens changed, the old readings age out
        ([0.0] * 5 + [10.0] * SLACK_RUNS, {"steps": 10.0, "runs": SLACK_RUNS}),
    ],
)
def test_slack_summary(estimates: list[float], summary: dict[str, float] | None) -> None:
    assert slack_summary(estimates) == summary
