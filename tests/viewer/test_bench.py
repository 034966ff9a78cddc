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
    assert "scaled tiles" in r.stdout and "full frames" in r.stdout
    full = res["full_frames"]
    for side in (res, full):  # the scaled side (the default) at the top, full frames beside it
        lat = side["latency_ms"]
        assert lat["n"] > 0 and 0 < lat["p50"] <= lat["p99"] <= lat["max"]
        assert side["publish_to_display_ms"]["n"] > 0
        assert len(side["per_client"]) == 2 and all(c["frames"] > 0 for c in side["per_client"])
        assert 0 < side["received_fps_per_client_camera"] <= side["published_fps_per_camera"] * 1.1
        assert side["viewer_cpu_percent"] >= 0 and side["measured_seconds"] >= 2.0
    assert res["config"] == {
        "cameras": 2,
        "clients": 2,
        "seconds": 2.0,
        "warmup": 0.5,
        "fps": 25,
        "source": "replay",
        "viewport": [1920, 1080],
        "device_scale_factor": 1.0,
        "rounds": 2,
    }
    # 1920 CSS px give four tiles a row, each under 480 px: half-size frames, made by the
    # viewer; the full-frame side got the camera's own 960-wide frames only
    assert res["tile_px"] and all(240 < px <= 480 for px in res["tile_px"]), res["tile_px"]
    assert set(res["frames_by_scale"]) == {"0.5"}, res["frames_by_scale"]
    assert res["scaler"]["frames_made_per_s"] > 0 and res["scaler"]["cpu_ms_per_frame"] > 0
    assert set(full["frames_by_scale"]) == {"1"}, full["frames_by_scale"]
    assert full["scaler"]["frames_made_per_s"] == 0


def test_bench_bad_flags_are_one_line() -> None:
    r = bench("--cameras", "0", timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip() == "tetherfocus: error: --cameras must be 1 to 32"


def test_bench_bad_viewport_is_one_line() -> None:
    r = bench("--viewport", "wide", timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "tetherfocus: error: --viewport 'wide' must be WIDTHxHEIGHT in CSS pixels, e.g. 1920x1080"
    )
