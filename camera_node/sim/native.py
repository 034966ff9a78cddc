"""Which loops draw the simulator's frames: the compiled ones (``_native.c``) or numpy's.

The compiled module is optional (``setup.py`` builds it when a C compiler is there).  Its
loops do the same float32 operations in the same order as the numpy code beside them, so a
frame, and so every seeded figure, is the same bit for bit either way; only the time differs
(``tetherfocus sim bench-render`` measures both).  ``use(False)`` switches to numpy, for
that comparison and for the tests that check the two agree.
"""

from __future__ import annotations

from types import ModuleType

_compiled: ModuleType | None
try:
    from camera_node.sim import _native as _compiled
except ImportError:  # built without a C compiler: numpy does the work
    _compiled = None

_enabled = True


def available() -> bool:
    """Whether the compiled module was built."""
    return _compiled is not None


def use(enabled: bool) -> None:
    """Use the compiled loops (when built) or numpy's, from the next frame on."""
    global _enabled
    _enabled = enabled


def module() -> ModuleType | None:
    """The compiled module when it is built and in use, else None."""
    return _compiled if _enabled else None
