"""A few-second run of ``tetherfocus viewer bench`` (replay publishers, real viewer, Chromium)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.viewer.liveproc import ROOT

pytestmark = [pytest.mark.live, pytest.mark.browser]


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tetherfocus.cli", "viewer", "bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_bench_smoke_reports_percentiles_as_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = bench(
        "--cameras",
        "2",
        "--clients",
        "2",
        "--seconds",
        "2",
        "--warmup",
        "0.5",
        "--source",
        "replay",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "p50" in r.stdout and "p99" in r.stdout
    res = json.loads(out.read_text())
    lat = res["latency_ms"]
    assert lat["n"] > 0 and 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert res["publish_to_display_ms"]["n"] > 0
    assert len(res["per_client"]) == 2 and all(c["frames"] > 0 for c in res["per_client"])
    assert res["config"] == {
        "cameras": 2,
        "clients": 2,
        "seconds": 2.0,
        "warmup": 0.5,
        "fps": 25,
        "source": "replay",
    }
    assert 0 < res["received_fps_per_client_camera"] <= res["published_fps_per_camera"] * 1.1


def test_bench_bad_flags_are_one_line() -> None:
    r = bench("--cameras", "0", timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip() == "tetherfocus: error: --cameras must be 1 to 32"
