"""A few seconds of `tetherfocus node bench`: the figures are all there (no timing thresholds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.camera_node.nodeproc import ROOT

pytestmark = pytest.mark.live


def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "tetherfocus.cli", "node", "bench", "--seconds", "2", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert figures == json.loads(done.stdout)
    assert figures["fps_target"] == 25.0 and figures["frames_published"] > 0
    assert figures["node_cpu_ms_per_frame"] > 0 and figures["render_ms_per_frame_not_counted"] > 0
    for key in ("latency_backend_to_pub_ms", "latency_backend_to_subscriber_ms"):
        lat = figures[key]
        assert lat["n"] > 0 and 0 <= lat["p50"] <= lat["p99"] <= lat["max"]
