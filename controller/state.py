"""What the controller remembers about each camera body, by serial number.

A camera is known by its serial number, not by the port or host its node happens to run
on: a node restarted elsewhere keeps its name, its region of interest, its focus presets
and its reference sharpness.  One JSON file per body, ``<DIR>/<serial>.json``::

    {"serial": "083024001234", "name": "left", "roi": [0.4, 0.4, 0.2, 0.2],
     "presets": {"product-A": {"position": 412.0, "saved": "2024-05-01T10:00:00+00:00"}},
     "reference": {"sharpness": 0.0123, "position": 412.0, "roi": [...], "saved": "..."},
     "landing": {"roi": [0.4, 0.4, 0.2, 0.2], "recall": {"recall_peak": 1.9, ...}, "saved": "..."},
     "last_seen": {"rep": "tcp://10.0.0.21:5556", "model": "Canon EOS 80D", "seen": "..."}}

Files are written atomically (a temporary file in the same directory, fsync, rename), so
a crash never leaves half a file.  Without a directory the store lives in memory only.

Errors: :meth:`StateStore.load` raises :class:`tetherfocus.errors.UsageError` for a file
that is not this format (one line naming it); writing raises ``OSError``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tetherfocus.errors import UsageError

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
PRESET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def serial_key(serial: str) -> str:
    """A file name for a serial number (anything odd becomes '_')."""
    return _SAFE.sub("_", serial)[:120] or "_"


def body_key(info: dict[str, Any] | None, camera: str) -> str:
    """What a body is filed under: the serial its node's ``info`` reports, or
    ``name:<camera>`` for a body that reports none."""
    serial = str((info or {}).get("serial") or "")
    return serial or f"name:{camera}"


@dataclass
class CameraState:
    serial: str
    name: str | None = None
    roi: list[float] | None = None
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference: dict[str, Any] | None = None
    last_seen: dict[str, Any] = field(default_factory=dict)
    # the last landing of autofocus: its region and what a refocus of it starts from
    # (controller.search.recall_options)
    landing: dict[str, Any] | None = None

    def land(self, roi: list[float], recall: dict[str, float]) -> None:
        """An autofocus landed on ``roi``: keep what a refocus of it starts from ({}: nothing,
        which forgets the landing before)."""
        self.landing = {"roi": list(roi), "recall": dict(recall), "saved": now_iso()} if recall else None

    def recall(self, roi: list[float]) -> dict[str, float]:
        """What a refocus of ``roi`` starts from: {} unless the last landing was on it."""
        land = self.landing
        if not land or land.get("roi") != roi:
            return {}
        return dict(land["recall"])

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "name": self.name,
            "roi": self.roi,
            "presets": self.presets,
            "reference": self.reference,
            "last_seen": self.last_seen,
            "landing": self.landing,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> CameraState:
        if not isinstance(data, dict) or not isinstance(data.get("serial"), str):
            raise UsageError(f"{where}: not a camera state file (no 'serial')")
        presets = data.get("presets") or {}
        if not isinstance(presets, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("position"), int | float) for v in presets.values()
        ):
            raise UsageError(f"{where}: 'presets' must map names to {{'position': number}}")
        roi = data.get("roi")
        seen = data.get("last_seen")
        landing = data.get("landing")
        if landing is not None and not (
            isinstance(landing, dict)
            and isinstance(landing.get("roi"), list)
            and len(landing["roi"]) == 4
            and isinstance(landing.get("recall"), dict)
            and all(isinstance(v, int | float) for v in landing["recall"].values())
        ):
            raise UsageError(
                f"{where}: 'landing' must be {{'roi': [x, y, w, h], 'recall': {{name: number}}}}"
            )
        return cls(
            serial=data["serial"],
            name=data.get("name") if isinstance(data.get("name"), str) else None,
            roi=[float(v) for v in roi] if isinstance(roi, list) and len(roi) == 4 else None,
            presets=presets,
            reference=data.get("reference") if isinstance(data.get("reference"), dict) else None,
            last_seen=seen if isinstance(seen, dict) else {},
            landing=landing,
        )


class StateStore:
    """Camera states by serial, in ``directory`` (or only in memory when it is None)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._states: dict[str, CameraState] = {}
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"--state {directory}: cannot create it ({exc.strerror})") from None
            if not directory.is_dir():
                raise UsageError(f"--state {directory}: not a directory")
            self.load()

    def load(self) -> None:
        """Read every ``*.json`` in the directory.  Raises UsageError."""
        assert self.directory is not None
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise UsageError(f"{path}: unreadable camera state ({exc})") from None
            st = CameraState.from_json(data, str(path))
            self._states[st.serial] = st

    def get(self, serial: str) -> CameraState:
        st = self._states.get(serial)
        if st is None:
            st = self._states[serial] = CameraState(serial)
        return st

    def known(self) -> list[CameraState]:
        return list(self._states.values())

    def by_name(self, name: str) -> CameraState | None:
        for st in self._states.values():
            if st.name == name:
                return st
        return None

    def save(self, st: CameraState) -> None:
        """Write one camera's file atomically.  Raises OSError."""
        self._states[st.serial] = st
        if self.directory is None:
            return
        path = self.directory / f"{serial_key(st.serial)}.json"
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(st.to_json(), f, indent=2, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
