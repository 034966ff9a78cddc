"""tetherfocus.outputs: where a command writes, checked before the work; and every command
with ``--json OUT`` checks it first (one line, exit 2, no traceback after the work)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tetherfocus.cli import main
from tetherfocus.errors import UsageError
from tetherfocus.outputs import check_out, write_text


def test_check_out(tmp_path: Path) -> None:
    assert check_out(None) is None
    assert check_out(str(tmp_path / "a.json")) == tmp_path / "a.json"
    with pytest.raises(UsageError, match="directory does not exist"):
        check_out(tmp_path / "no" / "a.json")
    with pytest.raises(UsageError, match="is a directory"):
        check_out(tmp_path)


def test_write_text_turns_os_errors_into_one_line(tmp_path: Path) -> None:
    write_text(tmp_path / "a.json", "{}\n")
    assert (tmp_path / "a.json").read_text() == "{}\n"
    with pytest.raises(UsageError, match="--out"):
        write_text(tmp_path / "gone" / "a.json", "{}", "--out")


@pytest.mark.parametrize(
    "args",
    [
        ["sim", "bench-render", "--scene", "chart", "--frames", "2"],  # was a traceback after the run
        ["sim", "bench-capture", "--scene", "chart", "--positions", "400"],
        ["node", "bench", "--seconds", "1"],
        ["bench", "af", "controller/bench/cases/af.toml"],
        ["bench", "pipeline"],
        ["fuzz", "--endpoint", "tcp://127.0.0.1:9"],
        ["soak", "--seconds", "1", "--browsers", "0"],
        ["viewer", "bench", "--seconds", "1"],
    ],
)
def test_every_json_out_is_checked_first(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main([*args, "--json", "/proc/no-such-dir/out.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "directory does not exist: /proc/no-such-dir" in err, err
