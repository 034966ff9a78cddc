"""focus.home's stop detection against the simulator in virtual time, where truth is known.

The dim scene is the hard case: frames far out of focus hardly change from one drive to the
next, and a detector that trusted "frames stopped changing" alone stopped mid travel there.
"""

from __future__ import annotations

import pytest

from camera_node.backends.sim import open_sim_backend
from camera_node.clock import VirtualClock
from camera_node.focusplan import StillDetector

SETTLE_S = 0.4  # a level-3 drive's documented duration plus latency and margin, rounded up


@pytest.mark.parametrize(("scene", "start"), [("lowlight", 400.0), ("lowcontrast", 600.0), ("chart", 800.0)])
def test_home_ends_at_the_true_near_stop(scene: str, start: float) -> None:
    clock = VirtualClock()
    backend = open_sim_backend(scene, seed=3, clock=clock)
    backend.open()
    backend.liveview_start()
    backend.sim.set_true_position(start)
    detector = StillDetector()
    for _ in range(5):
        detector.noise_frame(backend.preview()[0])
    drives = 0
    while drives < 40 and not detector.at_stop:
        drives += 1
        backend.focus_drive("near", 3)
        clock.sleep(SETTLE_S)
        detector.drive_frame(backend.preview()[0])
    clock.sleep(1.0)
    assert detector.at_stop and drives >= detector.min_drives
    assert backend.sim.true_position() == pytest.approx(0.0, abs=0.5)
