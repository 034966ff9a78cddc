"""Focus searches as pure state machines (sans-IO, h11 style).

A search is fed :class:`Observation` s (frame header fields plus a focus measure) and
returns commands: :class:`Drive`, :class:`Zoom`, and finally :class:`Done` or
:class:`Failed`.  It never sleeps, never touches a socket and takes time only as an
argument, so the same object runs inside the controller process, the one-shot ``focus``
command and the in-process benchmark.  See :class:`Strategy` for the calling contract.

Strategies: ``default`` (:mod:`.default`), ``refocus`` (``default`` told what an earlier
run on the same region found: :func:`recall_options`; without it, ``default`` itself) and
``sweep`` (:mod:`.sweep`, the published baseline).  Make one with :func:`create_strategy`.
The lens calibration (:mod:`.calibrate`) runs the same way; make it with
:func:`create_calibration`.

Errors: :func:`create_strategy` raises ``ValueError`` for an unknown name or option.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.search._machine import MAX_ASYMMETRY
from controller.search._types import (
    Command,
    Direction,
    Done,
    Drive,
    Failed,
    Move,
    Observation,
    Strategy,
    Zoom,
)
from controller.search.calibrate import Calibrate
from controller.search.default import Default
from controller.search.sweep import Sweep

STRATEGIES: dict[str, type[Default] | type[Sweep]] = {"default": Default, "refocus": Default, "sweep": Sweep}
NAMES: tuple[str, ...] = tuple(STRATEGIES)

__all__ = [
    "MAX_ASYMMETRY",
    "NAMES",
    "STRATEGIES",
    "Calibrate",
    "Command",
    "Default",
    "Direction",
    "Done",
    "Drive",
    "Failed",
    "Move",
    "Observation",
    "Strategy",
    "Sweep",
    "Zoom",
    "create_calibration",
    "create_strategy",
    "recall_options",
    "with_landing_top",
]


def create_strategy(
    name: str,
    *,
    zoom_levels: Sequence[int] = (1,),
    capabilities: Iterable[str] = (),
    roi: Sequence[float] | None = None,
    **options: Any,
) -> Default | Sweep:
    """A fresh search called ``name`` for a camera that offers ``zoom_levels``.

    ``capabilities`` is the node's list: magnification is used only if it holds "zoom".
    ``roi`` (x, y, w, h fractions) centres the magnified view on the region.  Other
    ``options`` go to the strategy's constructor.
    """
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(NAMES)}") from None
    _check_options(cls, options)
    if cls is Default:
        levels, center = _view(zoom_levels, capabilities, roi)
        size = None if roi is None else (float(roi[2]), float(roi[3]))
        return Default(zoom_levels=levels, roi_center=center, roi_size=size, **options)
    return Sweep(**options)


def recall_options(metrics: Mapping[str, float]) -> dict[str, float]:
    """The options a ``refocus`` of the same region takes from an earlier run's
    ``Done.metrics``: the peak its magnified fit had (``memory_peak``), the top of its 1x
    curve (``memory_coarse``) when it has one, and whether that fit was the dim look's
    (``memory_dim``).  {} when that run left none (no magnified fit, as without zoom; a
    fit on a part of a wide region that the depth stage chose; a quiet dim look's)."""
    peak = metrics.get("memory_peak")
    if peak is None or peak <= 0:
        return {}
    top = metrics.get("memory_coarse")
    dim = metrics.get("memory_dim")
    return {
        "recall_peak": float(peak),
        **({"recall_coarse": float(top)} if top else {}),
        **({"recall_dim": True} if dim else {}),
    }


def with_landing_top(recall: Mapping[str, float], top: float | None) -> dict[str, float]:
    """``recall`` (:func:`recall_options`) with ``top``, the region's 1x measure on the
    first settled frame after the landing (the view back at 1x, scored at the search's
    coarse scale), as the top of its 1x curve where the search had none: a magnified glide
    sees no 1x frame near focus.  Nothing for a dim look's memory (its 1x curve was lost in
    the noise) or a frame that could not be scored (``top`` None or not positive)."""
    out = dict(recall)
    if out and "recall_coarse" not in out and not out.get("recall_dim") and top is not None and top > 0:
        out["recall_coarse"] = float(top)
    return out


def create_calibration(
    *,
    zoom_levels: Sequence[int] = (1,),
    capabilities: Iterable[str] = (),
    roi: Sequence[float] | None = None,
    **options: Any,
) -> Calibrate:
    """A fresh asymmetry calibration (:mod:`.calibrate`) for a camera, as :func:`create_strategy`
    makes a search: magnified only if the node offers "zoom", centred on ``roi``."""
    _check_options(Calibrate, options)
    levels, center = _view(zoom_levels, capabilities, roi)
    return Calibrate(zoom_levels=levels, roi_center=center, **options)


def _view(
    zoom_levels: Sequence[int], capabilities: Iterable[str], roi: Sequence[float] | None
) -> tuple[tuple[int, ...], tuple[float, float]]:
    """The zoom levels a search may use (none above 1 without the "zoom" capability; an empty
    list means unknown, all of them) and the centre of ``roi`` (the view's without one)."""
    caps = set(capabilities)
    levels = tuple(zoom_levels) if ("zoom" in caps or not caps) else (1,)
    center = (0.5, 0.5) if roi is None else (roi[0] + roi[2] / 2, roi[1] + roi[3] / 2)
    return levels, center


def _check_options(cls: type[Default] | type[Sweep] | type[Calibrate], options: dict[str, Any]) -> None:
    """Each option's value of the type of the constructor's default for it (an int will do
    for a float), and a number finite.  Raises ValueError naming the option.  (The
    constructors take what they are given; a wrong type failed in the middle of a search.)"""
    params = inspect.signature(cls.__init__).parameters
    for key, value in options.items():
        p = params.get(key)
        if p is None or p.default is inspect.Parameter.empty or p.default is None:
            continue  # unknown: the constructor says so; no default type to hold it to
        want = type(p.default)
        if want is bool:
            ok, kind = isinstance(value, bool), "true or false"
        elif want in (int, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            ok = ok and (want is float or isinstance(value, int))
            kind = "a finite number" if want is float else "a whole number"
        elif want is tuple:
            ok, kind = isinstance(value, list | tuple), "a list"
        else:
            ok, kind = isinstance(value, want), f"a {want.__name__}"
        if not ok:
            raise ValueError(f"option {key} must be {kind} (default {p.default!r}), not {value!r}")
