"""The simulated backend: the gphoto2 backend over the simulated camera's facade.

The node's camera code is the same for hardware and simulation (the Canon None toggle,
viewfinder, eoszoom, capture and download); only the GPCamera underneath differs.  The
:class:`~camera_node.sim.SimCamera` handle is kept as :attr:`SimBackend.sim` for tests and
benchmarks, which alone may ask it for the truth.
"""

from __future__ import annotations

from typing import Any, cast

from camera_node.backends.gpcamera import GPCamera
from camera_node.backends.gphoto2 import GPhoto2Backend
from camera_node.clock import Clock, RealClock


class SimBackend(GPhoto2Backend):
    """A GPhoto2Backend whose camera is simulated; ``sim`` is the simulator (truth, faults)."""

    def __init__(self, sim: Any, camera: GPCamera, clock: Clock) -> None:
        super().__init__(camera, clock, backend_name="sim", sensor_size=tuple(sim.spec.optics.capture))
        self.sim = sim


def open_sim_backend(
    scene: str | None = None,
    *,
    seed: int | None = None,
    clock: Clock | None = None,
    nikon: bool = False,
) -> SimBackend:
    """A simulated body on ``scene`` (a built-in scene name or a .toml path; None: the default).

    Raises tetherfocus.errors.UsageError for an unknown scene or a bad scene file (one line).
    The camera is not opened yet: call ``open()``.
    """
    from camera_node.sim import open_sim  # the simulator pulls numpy and the scenes

    clock = clock or RealClock()
    sim, camera = open_sim(scene, clock=clock, seed=seed, nikon=nikon)
    # SimGPCamera satisfies GPCamera at run time; its file paths are frozen dataclasses,
    # which a Protocol with plain attributes does not accept statically.
    return SimBackend(sim, cast(GPCamera, camera), clock)
