"""The autofocus run of one camera as the page shows it: phase, samples (the curve), result.

Pure: :meth:`AfState.apply` takes one decoded ``af.<camera>`` event header
(:class:`protocol.AfEventHeader`) and updates the state.  A new ``run_id`` starts a new
curve.  Samples are capped so a runaway run cannot grow memory without bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol import AfEventHeader
from viewer.jsonutil import jsonable

MAX_SAMPLES = 2000


@dataclass(slots=True)
class AfState:
    state: str = "idle"  # idle, or the search phase, or done/failed/cancelled
    run_id: int | None = None
    strategy: str | None = None
    samples: list[tuple[float, float, int, str]] = field(
        default_factory=list
    )  # position, measure, zoom, series
    result: dict[str, Any] | None = None
    roi: list[float] | None = None  # the roi of the run, when known

    def start(self, run_id: int, strategy: str | None, roi: list[float] | None) -> None:
        """A run was started (from the ``autofocus`` reply); clears the previous curve."""
        if run_id != self.run_id:
            self.run_id = run_id
            self.samples = []
            self.result = None
        self.state = "starting"
        self.strategy = strategy
        self.roi = roi

    def apply(self, ev: AfEventHeader) -> bool:
        """Fold one event in.  Returns False when it belongs to an older run (ignored)."""
        if self.run_id is not None and ev.run_id < self.run_id:
            return False
        if ev.run_id != self.run_id:
            self.run_id = ev.run_id
            self.samples = []
            self.result = None
            self.strategy = None
        if ev.kind == "state":
            if ev.state:
                self.state = ev.state
        elif ev.kind == "sample":
            if ev.position is not None and ev.measure is not None and len(self.samples) < MAX_SAMPLES:
                self.samples.append((ev.position, ev.measure, ev.zoom, ev.series or f"{ev.zoom}x"))
        elif ev.kind == "result":
            self.result = dict(ev.result or {})
            if isinstance(self.result.get("strategy"), str):
                self.strategy = self.result["strategy"]
            ok = self.result.get("ok")
            if ok is True:
                self.state = "done"
            elif self.result.get("reason") == "cancelled":
                self.state = "cancelled"
            else:
                self.state = "failed"
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "run_id": self.run_id,
            "strategy": self.strategy,
            "samples": [[p, m, z, k] for p, m, z, k in self.samples],
            "result": jsonable(self.result),
        }
