"""A short ``tetherfocus soak``: 2 simulated nodes, the controller, the viewer and one headless
Chromium page for ~20 s (the 10-minute run with 4 cameras and 2 browsers is on demand;
docs/reliability.md records it).  Checks the report's shape and that every autofocus
ended, no process died or leaked descriptors, and the page received frames."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability import rigproc
from tests.reliability.rigproc import figure

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_soak_smoke(tmp_path: Path) -> None:
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        pytest.fail("Chromium is missing: apt-get install chromium (./dev test installs it)")
    out = tmp_path / "soak.json"
    # memory is not judged on 20 s (the nodes are still filling their render caches): --rss-slack 3
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tetherfocus.cli",
            "soak",
            "--seconds",
            "20",
            "--cameras",
            "2",
            "--browsers",
            "1",
            "--af-every",
            "3",
            "--warmup",
            "5",
            "--rss-slack",
            "3",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=rigproc.ROOT,
    )
    assert "Traceback" not in r.stderr, r.stderr
    rep = json.loads(out.read_text())
    figure("soak_smoke", autofocus=rep["autofocus"], wall_s=rep["wall_s"])
    assert r.returncode == 0 and rep["pass"], rep["problems"]
    af = rep["autofocus"]
    assert af["started"] >= 2 and af["unended"] == 0 and af["ok"] + af["failed"] == af["started"]
    assert set(rep["processes"]) == {"cam1", "cam2", "controller", "viewer"}
    for name, p in rep["processes"].items():
        assert p["rss_kb_start"] > 0 and p["rss_kb_end"] > 0 and p["fds_end"] <= p["fds_start"] + 5, name
    assert rep["exit_codes"] == {"cam1": 0, "cam2": 0, "controller": 0, "viewer": 0}
    assert rep["browser_frames"] and all(n > 10 for n in rep["browser_frames"][0])
    assert rep["page_errors"] == []
