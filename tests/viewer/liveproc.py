"""A whole rig as real processes on loopback: sim nodes, the controller, the viewer.

Every process binds port 0 (``tcp://127.0.0.1:*``, ``--http 127.0.0.1:0``) and prints one
JSON ready line naming what it bound, so there are no port races.  ``LiveRig.stop`` sends
SIGTERM to each and returns their exit codes; anything left is killed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.reliability.rigproc import wait_for as wait_for  # re-exported: polling, as the rig tests do
from tetherfocus.procs import ReadyProcess, stop_all, tetherfocus_argv

ROOT = Path(__file__).resolve().parents[2]
SCENES = ("chart", "coffee", "tabletop", "moto", "highlight", "lowcontrast")
Proc = ReadyProcess


def spawn(name: str, args: list[str], tmp: Path) -> Proc:
    """Start ``tetherfocus ARGS`` (stdout piped for its ready line, stderr to a log file)."""
    return Proc(
        tetherfocus_argv(*args), name=name, log=tmp / f"{name}.log", env={"PYTHONPATH": str(ROOT)}, cwd=ROOT
    )


def start(name: str, args: list[str], tmp: Path, timeout: float = 60.0) -> Proc:
    """Start ``tetherfocus ARGS`` and wait until it is ready.  Raises RuntimeError."""
    return spawn(name, args, tmp).wait_ready(timeout)


@dataclass
class LiveRig:
    tmp: Path
    nodes: list[Proc] = field(default_factory=list)
    controller: Proc | None = None
    viewer: Proc | None = None

    @property
    def url(self) -> str:
        assert self.viewer is not None
        return str(self.viewer.ready["url"])

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def stop(self, timeout: float = 15.0) -> dict[str, int | None]:
        """SIGTERM everything (viewer first), then the exit codes by process name; None for
        a process that had to be killed after ``timeout`` s."""
        procs = [p for p in [self.viewer, self.controller, *self.nodes] if p is not None]
        return {p.name: code for p, code in zip(procs, stop_all(procs, timeout), strict=True)}


def start_rig(tmp: Path, cameras: int, *, viewer: bool = True, fps: int = 25) -> LiveRig:
    """``cameras`` sim nodes on different scenes, a controller, and (optionally) the viewer."""
    rig = LiveRig(tmp)
    try:
        spawned = []
        for i in range(cameras):  # all at once: each takes seconds to load its scene
            name = f"cam{i + 1}"
            scene = SCENES[i % len(SCENES)]
            args = ["node", "--camera", f"sim:{scene}", "--name", name, "--seed", str(7 + i)]
            args += ["--pub", "tcp://127.0.0.1:*", "--rep", "tcp://127.0.0.1:*", "--fps", str(fps)]
            spawned.append(spawn(name, args, tmp))
        try:
            rig.nodes = [p.wait_ready(60.0) for p in spawned]
        except RuntimeError:
            for other in spawned:
                other.kill()
            raise
        lines = []
        for i, n in enumerate(rig.nodes):
            lines += ["[[camera]]", f'name = "{n.name}"', f'rep = "{n.ready["rep"]}"']
            if i < len(rig.nodes) - 1 or len(rig.nodes) == 1:
                lines.append(f'pub = "{n.ready["pub"]}"')
            # else: no pub, so the viewer and the controller ask the node's info for it
            lines.append("")
        rig_file = tmp / "rig.toml"
        rig_file.write_text("\n".join(lines))
        ctl = [
            "controller",
            "--rig",
            str(rig_file),
            "--rep",
            "tcp://127.0.0.1:*",
            "--pub",
            "tcp://127.0.0.1:*",
        ]
        rig.controller = start("controller", ctl, tmp)
        if viewer:
            rig.viewer = start("viewer", viewer_args(rig, rig_file), tmp)
    except BaseException:
        rig.stop()
        raise
    return rig


def viewer_args(rig: LiveRig, rig_file: Path, http: str = "127.0.0.1:0") -> list[str]:
    assert rig.controller is not None
    return [
        "viewer",
        "--rig",
        str(rig_file),
        "--controller",
        rig.controller.ready["rep"],
        "--controller-pub",
        rig.controller.ready["pub"],
        "--http",
        http,
    ]
