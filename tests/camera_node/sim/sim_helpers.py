"""Helpers shared by the simulated camera's tests: small scene files made on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from camera_node.clock import VirtualClock
from camera_node.sim import SimCamera, SimGPCamera, open_sim


def tilted_texture(d: Path) -> None:
    """Write ``tex.png`` (fine random texture, 480 x 320) and ``ramp.npy`` (a disparity map
    rising from 1 at the left edge to 2 at the right: a plane tilted left to right) in ``d``."""
    rng = np.random.default_rng(5)
    img = (rng.random((320, 480)) * 200 + 28).astype(np.uint8)
    Image.fromarray(np.stack([img] * 3, axis=-1)).save(d / "tex.png")
    np.save(d / "ramp.npy", np.tile(np.linspace(1.0, 2.0, 480, dtype=np.float32), (320, 1)))


def edge_scene(tmp_path: Path, *, extra: str = "", capture: tuple[int, int] = (1800, 1200)) -> Path:
    """A flat scene, focus_at 400: dark left half, bright right half (one vertical edge)."""
    img = np.full((400, 600, 3), 60, np.uint8)
    img[:, 300:] = 200
    Image.fromarray(img).save(tmp_path / "edge.png")
    toml = tmp_path / "edge.toml"
    toml.write_text(
        'image = "edge.png"\nseed = 2\n[depth]\nfocus_at = 400\n'
        f"[optics]\nbreathing = 0.0\ncapture = [{capture[0]}, {capture[1]}]\n{extra}",
        encoding="utf-8",
    )
    return toml


def open_test_sim(
    scene: str | Path = "chart", seed: int = 1, **kw: object
) -> tuple[SimCamera, SimGPCamera, VirtualClock]:
    clock = VirtualClock()
    sim, cam = open_sim(scene, clock=clock, seed=seed, **kw)  # type: ignore[arg-type]
    return sim, cam, clock


def start_liveview(cam: SimGPCamera, clock: VirtualClock, sim: SimCamera) -> None:
    w = cam.get_single_config("viewfinder")
    w.set_value(1)
    cam.set_single_config("viewfinder", w)
    clock.advance(sim.spec.stream.mirror_up_s + 0.01)


def drive(cam: SimGPCamera, value: str) -> None:
    w = cam.get_single_config("manualfocusdrive")
    w.set_value(value)
    cam.set_single_config("manualfocusdrive", w)
