"""Errors shared by every subcommand."""

import math


class UsageError(Exception):
    """A mistake in what the person typed (flag, scene key, camera name).

    The command line prints it as one line on stderr and exits with status 2.
    """


def check_seconds(value: float, flag: str, what: str = "to wait") -> float:
    """A positive, finite number of seconds given as ``flag``.  Raises UsageError (a NaN
    deadline is never reached, so a wait on it would never end)."""
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{flag} {value:g}: give the seconds {what}, more than 0")
    return value
