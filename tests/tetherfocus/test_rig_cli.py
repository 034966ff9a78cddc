"""tetherfocus rig: flag mistakes are one line and exit 2, before anything listens or runs.

(Each of these was a traceback, or ran with a nonsensical value, before session 10.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tetherfocus.cli import main


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["discover", "--interface", "999.9.9.9"], "--interface '999.9.9.9': not an IPv4 address"),
        (
            ["discover", "--write", "/proc/no-such-dir/rig.toml"],
            "--write /proc/no-such-dir/rig.toml: cannot write",
        ),
        (["home", "--rig", "{rig}", "--wait", "-1"], "--wait -1: give the seconds"),
        (["focus-all", "--rig", "{rig}", "--wait", "nan"], "--wait nan: give the seconds"),
        (["focus-all", "--rig", "{rig}", "--strategy", "refocus"], "--strategy refocus starts from what a"),
    ],
)
def test_rig_flag_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text('[[camera]]\nname = "a"\nrep = "tcp://127.0.0.1:9"\n')
    assert main(["rig", *[a.replace("{rig}", str(rig)) for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err
