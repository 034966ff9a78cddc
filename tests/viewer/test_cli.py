"""`tetherfocus viewer` mistakes end in one line and exit status 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.viewer.liveproc import ROOT

RIG = '[[camera]]\nname = "cam1"\nrep = "tcp://127.0.0.1:9"\npub = "tcp://127.0.0.1:10"\n'


def viewer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tetherfocus.cli", "viewer", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "needs --rig"),
        (["--rig", "/nonexistent/rig.toml"], "does not exist"),
        (["--rig", "{rig}", "--http", "localhost"], "HOST:PORT"),
        (["--rig", "{rig}", "--controller", "ipc:///tmp/x"], "--controller-pub"),
        (
            ["--rig", "{rig}", "--controller", "tcp://127.0.0.1:99999"],
            "ports are 1 to 65535",
        ),  # was a traceback
        (["--rig", "{rig}", "--controller", "tcp://127.0.0.1:65535"], "--controller-pub"),
        (["--rig", "{rig}", "--controller-pub", "nonsense"], "--controller-pub: 'nonsense' is not"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG)
    r = viewer(*[a.replace("{rig}", str(rig)) for a in args])
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and words in r.stderr and "Traceback" not in r.stderr


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = viewer("--rig", str(rig), "--http", f"127.0.0.1:{port}")
    assert r.returncode == 2
    assert r.stderr.startswith("tetherfocus: error: cannot serve on") and r.stderr.count("\n") == 1
