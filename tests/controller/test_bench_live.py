"""``tetherfocus bench live``: a few-second run against a real node process, and its errors.

The full benchmark is a command run on demand (BENCHMARKS.md); this keeps it from rotting.
It starts a real ``tetherfocus node`` process on the simulated camera, on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tetherfocus.cli import main
from tetherfocus.procs import tetherfocus_argv

SCENES = Path(__file__).resolve().parents[2] / "camera_node" / "sim" / "scenes"


def _cases(tmp_path: Path) -> Path:
    p = tmp_path / "cases.toml"
    p.write_text(
        f'[[case]]\nname = "chart"\nscene = "{SCENES / "chart.toml"}"\nroi = [0.4, 0.4, 0.2, 0.2]\n'
        "start = 450\n\n"
        f'[[case]]\nname = "other"\nscene = "{SCENES / "chart.toml"}"\nroi = [0.1, 0.1, 0.2, 0.2]\n'
    )
    return p


def test_one_live_run_beside_virtual_time(tmp_path: Path) -> None:
    """One case from a start (the node is homed and sent there), live and virtual."""
    out = tmp_path / "live.json"
    argv = tetherfocus_argv(
        "bench", "live", str(_cases(tmp_path)), "--cases", "chart", "--repeats", "1", "--json", str(out)
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["strategy"] == "default"
    (row,) = doc["runs"]
    assert row["case"] == "chart" and row["repeat"] == 0
    live, virtual = row["live"], row["virtual"]
    assert live["ok"] is True and live["node_exit"] == 0
    assert live["drives"] > 0 and live["frames"] > 0
    assert 0 < live["seconds"] <= live["wall_seconds"]
    assert virtual["ok"] is True and virtual["drives"] > 0
    s = doc["summary"]
    assert s["runs"] == s["live_ok"] == s["virtual_ok"] == 1
    assert s["median_gap_seconds"] == pytest.approx(live["seconds"] - virtual["seconds"], abs=1e-3)
    assert s["node_exits_clean"] is True
    assert "median" in done.stdout and done.stdout.count("\n") == 1


def test_bench_live_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = str(_cases(tmp_path))
    for args, said in (
        (["--cases", "nope"], "no case named 'nope'"),
        (["--strategy", "bisect"], "--strategy 'bisect'"),
        (["--repeats", "0"], "--repeats must be at least 1"),
    ):
        assert main(["bench", "live", cases, *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and said in err, err
    assert main(["bench", "live", str(tmp_path / "none.toml")]) == 2
    assert "case file not found" in capsys.readouterr().err
