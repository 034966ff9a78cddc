"""``tetherfocus bench pipeline``: a few-second run with small N, so the command cannot rot.

No timing thresholds: the figures depend on the machine; the test checks that every figure
is there, measured (both sides of each comparison), and consistent with itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from controller.bench.afscale import Timed
from controller.bench.pipeline import viewer_keys
from controller.bench.scaling import Recorder, ramp
from controller.bench.stack import Grid, StackView
from controller.search import Failed, Observation, create_strategy
from tetherfocus.cli import main

KEYS = (
    "cameras_sustained",
    "full_decode_cameras_sustained",
    "cameras_sustained_every_frame",
    "full_decode_cameras_sustained_every_frame",
    "measure_per_s",
    "full_decode_measure_per_s",
    "transport_ratio",
    "latency_ms_p50",
    "latency_ms_p99",
)


def test_ramp_ends_at_the_requested_count() -> None:
    assert ramp(2) == [2]
    assert ramp(32) == [4, 8, 16, 32]
    assert ramp(40) == [4, 8, 16, 32, 40]


def test_recorder_keeps_only_frames_inside_its_window() -> None:
    rec = Recorder(2)
    rec.window = (10.0, 20.0)
    obs = [Observation(1, t, 0, True, 1, 1.0, 2) for t in (9.0, 10.0, 19.99)]
    assert rec.start(0.0) == [] and rec.feed(obs[0], 10.1) == []
    rec.feed(obs[1], 10.004)
    rec.feed(obs[2], 20.5)  # measured after the window closed
    assert rec.latency == pytest.approx([0.004])
    assert isinstance(rec.cancel(21.0)[0], Failed)
    assert rec.wanted_scale == 2


def test_timed_records_frames_inside_its_window_and_passes_everything_on() -> None:
    inner = create_strategy("default", zoom_levels=(1, 5), capabilities=("zoom",), roi=(0.4, 0.4, 0.2, 0.2))
    sink: list[float] = []
    timed = Timed(inner, [10.0, 20.0], sink)
    timed.start(0.0)
    assert timed.wanted_scale == inner.wanted_scale and timed.finished == inner.finished
    for t, now in ((9.0, 10.1), (10.0, 10.004), (19.99, 20.5)):
        timed.feed(Observation(1, t, 0, True, 1, 1.0, timed.wanted_scale), now)
    assert sink == pytest.approx([0.004])
    assert timed.phase == getattr(inner, "phase", None)


def test_stack_grid_is_fine_near_focus_and_lookup_takes_the_nearest() -> None:
    grid = Grid(coarse_step=100.0, fine_half=2.0, mid_half=8.0)
    assert grid.coarse(250.0) == [0.0, 100.0, 200.0, 250.0]
    fine = grid.fine(800.0, 400.0)
    assert [p for p in fine if 396 <= p <= 404] == [396.0, 398.0, 399.0, 400.0, 401.0, 402.0, 404.0]
    assert fine[0] == 0.0 and fine[-1] == 800.0
    view = StackView(("live", 1), 1, [0.0, 10.0, 20.0], [[b"a"], [b"b"], [b"c"]])
    assert [view.nearest(p)[0] for p in (-5.0, 4.9, 5.1, 14.0, 16.0, 99.0)] == [
        b"a",
        b"a",
        b"b",
        b"b",
        b"c",
        b"c",
    ]


def test_bench_pipeline_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pipeline.json"
    argv = ["bench", "pipeline", "--cameras", "2", "--seconds", "1", "--skip", "viewer,af"]
    assert main([*argv, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    printed = json.loads(capsys.readouterr().out)
    for key in KEYS:
        assert key in doc and key in printed
    assert doc["measure_per_s"] > 0 and doc["full_decode_measure_per_s"] > 0
    assert doc["node"]["publish_us_per_frame"] > 0
    assert doc["node"]["capture_to_publish_ms"]["n"] > 0
    single = doc["transport_single_stream"]
    assert single["bare_frames_per_s"] > 0 and single["pipeline_frames_per_s"] > 0
    (step,) = doc["ramp"]
    assert step["cameras"] == 2
    for mode in ("region_decode", "full_decode"):
        assert step[mode]["frames_measured"] > 0
        assert math.isfinite(step[mode]["latency_ms_p99"])
    assert step["transport"]["bare_frames_per_s"] > 0
    assert doc["transport_ratio"] == step["transport"]["ratio"]
    assert doc["cameras_sustained_every_frame"] in (0, 2)
    # the headline: real autofocus runs (default) on real nodes over a pre-rendered focus stack
    af = doc["af_scale"]
    assert af["strategy"] == "default" and af["stack"]["frames"] > 0
    (af_step,) = af["ramp"]
    assert af_step["cameras"] == 2 and af_step["frames_rendered_not_from_stack"] == 0
    for mode in ("region_decode", "full_decode"):
        m = af_step[mode]
        assert m["frames_measured"] > 0 and m["frames_received"] > m["frames_measured"]
        assert m["skipped_not_settled"] > 0  # the motor moved: its frames were never decoded
    assert doc["cameras_sustained"] in (0, 2)
    assert doc["latency_ms_p99"] == (af_step["region_decode"]["latency_ms_p99"])
    assert doc["host"]["cpus"] >= 1 and len(doc["host"]["loadavg_at_start"]) == 3


def test_viewer_keys_report_scaled_tiles_first_and_full_frames_beside_them() -> None:
    def side(p50: float, p99: float, cpu: float) -> dict[str, Any]:
        return {"latency_ms": {"p50": p50, "p99": p99}, "viewer_cpu_percent_per_stream": cpu}

    r = {**side(80.0, 200.0, 0.3), "full_frames": side(900.0, 1800.0, 0.2)}
    assert viewer_keys(r) == {
        "viewer_latency_ms_p50": 80.0,
        "viewer_latency_ms_p99": 200.0,
        "viewer_full_frames_latency_ms_p50": 900.0,
        "viewer_full_frames_latency_ms_p99": 1800.0,
        "viewer_cpu_percent_per_stream": 0.3,
        "viewer_full_frames_cpu_percent_per_stream": 0.2,
    }


def test_bench_pipeline_rejects_a_wrong_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "pipeline", "--skip", "nodes"]) == 2
    assert "--skip: unknown part 'nodes'; choose from node," in capsys.readouterr().err
