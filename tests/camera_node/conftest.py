"""Fixtures of the camera node tests: nodes as real subprocesses on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.camera_node.nodeproc import NodeProc, start_node


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[Callable[..., NodeProc]]:
    started: list[NodeProc] = []

    def factory(*args: str, **kw: object) -> NodeProc:
        node = start_node(tmp_path, *args, **kw)  # type: ignore[arg-type]
        started.append(node)
        return node

    yield factory
    for node in started:
        if node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait(5)


SCENE_ASSETS = Path(__file__).resolve().parents[2] / "camera_node" / "sim" / "scenes" / "assets"


@pytest.fixture
def small_scene(tmp_path: Path) -> Path:
    """The tabletop scene with a 1200 x 800 capture and a quick mirror: fast captures in tests."""
    path = tmp_path / "small.toml"
    path.write_text(
        f"""name = "small"
image = "{SCENE_ASSETS / "tabletop.png"}"
seed = 11
[depth]
focus_at = 430
[optics]
capture = [1200, 800]
[stream]
mirror_up_s = 0.3
"""
    )
    return path


@pytest.fixture
def sim_node(node_factory: Callable[..., NodeProc], small_scene: Path) -> NodeProc:
    """A simulated Canon body (the small scene), seed 7, live view on."""
    return node_factory("--camera", f"sim:{small_scene}", "--seed", "7")
