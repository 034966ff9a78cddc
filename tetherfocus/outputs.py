"""Files a command writes (``--json OUT`` and the like): checked before the work starts,
so a mistyped path costs a line, not a benchmark's minutes and a traceback at the end."""

from __future__ import annotations

import os
from pathlib import Path

from tetherfocus.errors import UsageError


def check_out(path: str | Path | None, flag: str = "--json") -> Path | None:
    """``path`` as a Path whose directory exists and is writable (None stays None).
    Raises UsageError."""
    if path is None or path == "":
        return None
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {p}: is a directory; give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {p}: cannot write there, directory does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {p}: cannot write in {parent}")
    return p


def write_text(path: Path, text: str, flag: str = "--json") -> None:
    """Write ``text`` to ``path``.  Raises UsageError for an OS error (a full disk, a
    directory removed meanwhile)."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{flag} {path}: {exc.strerror or exc}") from None
