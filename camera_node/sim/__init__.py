"""The simulated camera: a Canon-like body over a scene, with the physics of issue 3.

Entry points::

    from camera_node.sim import open_sim, list_scenes
    sim, cam = open_sim("moto", clock=VirtualClock(), seed=3)
    cam.capture_preview()          # cam satisfies backends.gpcamera.GPCamera
    sim.true_position()            # truth, for tests and benchmarks only

Modules: :mod:`.scene` (scene files), :mod:`.motor`, :mod:`.optics`, :mod:`.views` and
:mod:`.render` (live view), :mod:`.capture` (full resolution), :mod:`.stream` (noise and
JPEG), :mod:`.faults`, :mod:`.camera` (:class:`SimCamera`), :mod:`.truth`,
:mod:`.widgets` and :mod:`.facade` (:class:`SimGPCamera`), :mod:`.bench`.
"""

from __future__ import annotations

from pathlib import Path

from camera_node.clock import Clock
from camera_node.sim.camera import SimCamera
from camera_node.sim.facade import SimGPCamera
from camera_node.sim.scene import SceneSpec, load_scene, parse_scene
from tetherfocus.errors import UsageError

SCENES_DIR = Path(__file__).parent / "scenes"
DEFAULT_SCENE = "tabletop"

__all__ = ["DEFAULT_SCENE", "SimCamera", "SimGPCamera", "list_scenes", "open_sim", "resolve_scene"]


def list_scenes() -> list[str]:
    """Names of the built-in scenes."""
    return sorted(p.stem for p in SCENES_DIR.glob("*.toml"))


def resolve_scene(scene: str | Path | None) -> SceneSpec:
    """A built-in scene name, a path to a .toml, or None (the default).  Raises UsageError."""
    if scene is None:
        scene = DEFAULT_SCENE
    text = str(scene)
    if isinstance(scene, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        return parse_scene(Path(scene))
    path = SCENES_DIR / f"{text}.toml"
    if not path.is_file():
        raise UsageError(
            f"unknown scene {text!r}; built-in scenes: {', '.join(list_scenes())} (or a path to a .toml)"
        )
    return parse_scene(path)


def open_sim(
    scene: str | Path | None = None,
    *,
    clock: Clock | None = None,
    seed: int | None = None,
    nikon: bool = False,
) -> tuple[SimCamera, SimGPCamera]:
    """A simulated camera and its gphoto2-style facade.  Raises UsageError for a bad scene."""
    sim = SimCamera(load_scene(resolve_scene(scene)), clock=clock, seed=seed, nikon=nikon)
    return sim, SimGPCamera(sim)
