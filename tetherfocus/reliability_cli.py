"""``tetherfocus fuzz`` and ``tetherfocus soak``: the on-demand reliability runs (docs/reliability.md)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    from tetherfocus import fuzz, soak

    fuzz.register(sub)
    soak.register(sub)
