"""`tetherfocus focus`, the one-shot command, as a real process against real node processes.

A simulated node runs on loopback (ports from its ready line); the command is started as
a user would start it and must print its progress and end with one clear line.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.camera_node.nodeproc import ENV, NodeProc, start_node
from tetherfocus.client import Client
from tetherfocus.procs import tetherfocus_argv

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.live


def focus(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tetherfocus_argv("focus", *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **ENV},
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProc]:
    """A node on the built-in `moto` scene: a motorbike seen at an angle (a depth map)."""
    node = start_node(tmp_path_factory.mktemp("moto"), "--camera", "sim:moto", "--seed", "5")
    try:
        yield node
    finally:
        node.stop()


def test_focus_shows_progress_and_ends_with_one_line(moto: NodeProc) -> None:
    # A region on the tank: 10-90 % of its detail comes into focus 214-263 steps from the
    # near stop, so the search lands where its contrast peaks and says the region spans depth.
    # the sim lens's own slack and direction asymmetry
    r = focus("--node", moto.rep, "--roi", "0.4,0.4,0.2,0.2", "--backlash", "4", "--asymmetry", "0.04")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert sum(" sample " in ln for ln in lines) >= 5  # progress as it goes
    last = lines[-1]
    assert last.startswith("cam1: focused at ") and " drives, " in last and " frames, " in last, last
    assert "the region spans depth" in last, last


def test_refocus_starts_from_the_landing_kept_in_the_state_directory(moto: NodeProc, tmp_path: Path) -> None:
    # af.toml's "moto tank" region.  Focus once, keeping the landing; move the lens 13 steps
    # near; refocus from the landing kept.  Another region has none to start from, and the
    # line says so whether its whole search lands or fails (it is the moto door, a hard
    # region: a session-24 CI run failed it no_peak, and the line then had no word of it).
    roi = "0.35,0.45,0.1,0.1"
    first = focus("--node", moto.rep, "--roi", roi, "--state", str(tmp_path), "--quiet")
    assert first.returncode == 0 and "focused at" in first.stdout, first.stdout + first.stderr
    (kept,) = tmp_path.glob("*.json")
    landing = json.loads(kept.read_text())["landing"]
    assert landing["roi"] == [0.35, 0.45, 0.1, 0.1] and landing["recall"]["recall_peak"] > 0, landing
    with Client(moto.rep, timeout=10) as node:
        node.call("focus.drive", {"direction": "near", "level": 2, "count": 2})
    time.sleep(0.5)
    again = focus(
        "--node", moto.rep, "--roi", roi, "--state", str(tmp_path), "--strategy", "refocus", "--quiet"
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("; refocused from the last landing"), again.stdout
    other = focus(
        "--node",
        moto.rep,
        "--roi",
        "0.25,0.05,0.1,0.1",
        "--state",
        str(tmp_path),
        "--strategy",
        "refocus",
        "--quiet",
    )
    assert "no landing kept for this camera and region: the whole search ran" in other.stdout, other.stdout


def test_calibrate_measures_the_sim_lens_asymmetry(moto: NodeProc) -> None:
    # `tetherfocus calibrate`: autofocus, then round trips through focus on the node's
    # real libgphoto2 path.  The simulated lens's far drives travel 4 % further than its
    # near ones.  Two short trips (the suite's budget) measure it to a couple of per cent;
    # the defaults (seven trips of 100 steps) read +0.044 on `chart` in 49 s.
    r = subprocess.run(
        tetherfocus_argv(
            "calibrate", "--node", moto.rep, "--roi", "0.4,0.4,0.2,0.2", "--trials", "2", "--distance", "150"
        ),
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **ENV},
        cwd=ROOT,
    )
    assert r.returncode == 0, (r.stdout, r.stderr)
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("cam1: asymmetry +") and "put asymmetry = " in last, last
    measured = float(last.split("put asymmetry = ")[1].split()[0])
    assert 0.0 < measured < 0.08, last


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--trials", "1"), "--trials 1: give 2 to 50 round trips"),
        (("--distance", "5"), "--distance 5: give 12.8 to 800 level-1 steps"),
        (("--roi", "0.5,0.5,0.001,0.2"), "at least 0.01 of the view wide and high"),
    ],
)
def test_a_bad_calibrate_flag_is_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    r = subprocess.run(
        tetherfocus_argv("calibrate", "--node", "tcp://127.0.0.1:9", *args),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV},
        cwd=ROOT,
    )
    assert r.returncode == 2
    assert r.stdout == "" and r.stderr.count("\n") == 1 and says in r.stderr, r.stderr


def test_a_bad_region_is_one_line_and_exit_2(moto: NodeProc) -> None:
    r = focus("--node", moto.rep, "--roi", "0.4,0.4,0.9,0.2")
    assert r.returncode == 2
    assert r.stdout == "" and r.stderr.count("\n") == 1 and "--roi" in r.stderr, r.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--backlash", "-2"), "--backlash must lie within"),
        (("--backlash", "6", "--strategy", "sweep"), "--backlash is for the default strategy"),
        (("--backlash", "lots"), "--backlash"),
        (("--asymmetry", "0.3"), "--asymmetry must lie within [-0.2, 0.2]"),
        (("--asymmetry", "0.04", "--strategy", "sweep"), "--asymmetry is for the default strategy"),
        (("--timeout", "-1"), "--timeout -1: give the seconds to wait"),
        (("--timeout", "0"), "--timeout 0: give the seconds to wait"),
        (("--roi", "0.5,0.5,0.001,0.2"), "at least 0.01 of the view wide and high"),
        (("--strategy", "refocus"), "--strategy refocus starts from the camera's last landing"),
        (("--strategy", "magic"), "--strategy 'magic': choose one of default, refocus, sweep"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    r = focus("--node", "tcp://127.0.0.1:9", *args)
    assert r.returncode == 2
    assert r.stdout == "" and r.stderr.count("\n") == 1 and says in r.stderr, r.stderr


def test_a_node_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    r = focus("--node", "tcp://127.0.0.1:9", "--roi", "0.4,0.4,0.2,0.2", timeout=60.0)
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "did not answer" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
