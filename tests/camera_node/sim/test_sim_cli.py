"""The ``tetherfocus sim`` subcommands, driven through camera_node.cli.register."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from PIL import Image

import camera_node.cli as node_cli
from camera_node.sim import native
from tetherfocus.errors import UsageError


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tetherfocus")
    sub = parser.add_subparsers(dest="command")
    node_cli.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_render_writes_one_frame_per_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        _run(
            [
                "sim",
                "render",
                "chart",
                "--positions",
                "100,400",
                "--zoom",
                "5",
                "--center",
                "0.5,0.5",
                "--out",
                str(tmp_path),
                "--format",
                "png",
            ]
        )
        == 0
    )
    paths = capsys.readouterr().out.split()
    assert len(paths) == 2
    for p in paths:
        with Image.open(p) as im:
            assert im.size == (960, 640)


def test_render_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown scene"):
        _run(["sim", "render", "nope", "--positions", "1", "--out", str(tmp_path)])
    with pytest.raises(UsageError, match="--positions"):
        _run(["sim", "render", "chart", "--positions", "1,x", "--out", str(tmp_path)])
    with pytest.raises(UsageError, match="range"):
        _run(["sim", "render", "chart", "--positions", "900", "--out", str(tmp_path)])
    with pytest.raises(UsageError, match="--zoom"):
        _run(["sim", "render", "chart", "--positions", "1", "--zoom", "3", "--out", str(tmp_path)])


def test_scenes_lists_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["sim", "scenes"]) == 0
    out = capsys.readouterr().out
    assert "moto" in out and "(default)" in out


def test_bench_render_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert (
        _run(["sim", "bench-render", "--scene", "chart", "--frames", "3", "--json", str(out), "--all-cores"])
        == 0
    )
    result = json.loads(out.read_text())
    assert result["still"]["frames"] == 3
    for key in ("render", "encode", "total", "total_cpu"):
        assert result["moving"][key]["median_ms"] > 0
    assert result["host"]["reference_ms"] > 0 and result["host"]["machine"]
    # With the compiled loops built, numpy's are timed on the same workload in the same run.
    assert result["compiled_loops"] is native.available()
    if native.available():
        assert result["moving_numpy_loops"]["frames"] == 3
        assert result["moving_numpy_loops"]["total_cpu"]["median_ms"] > 0
    else:
        assert result["moving_numpy_loops"] is None
    assert json.loads(capsys.readouterr().out) == result


def test_bench_capture_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "capture.json"
    args = ["sim", "bench-capture", "--scene", "moto", "--size", "300,200", "--positions", "240,430"]
    assert _run([*args, "--json", str(out), "--all-cores"]) == 0
    result = json.loads(out.read_text())
    assert result["size"] == [300, 200] and [c["position"] for c in result["captures"]] == [240.0, 430.0]
    assert all(c["cpu_s"] > 0 and c["jpeg_kb"] > 0 and c["layers"] > 1 for c in result["captures"])
    assert json.loads(capsys.readouterr().out) == result


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--size", "300"], "--size must be two integers"),
        (["--size", "8,8"], "16 to 16384 on each side"),
        (["--size", "99999,99999"], "16 to 16384 on each side"),  # was a 10-gigapixel allocation
        (["--positions", "a,b"], "--positions must be numbers"),
    ],
)
def test_bench_capture_bad_flags_get_one_line(args: list[str], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        _run(["sim", "bench-capture", *args])
