"""Errors shared by every subcommand."""


class UsageError(Exception):
    """A mistake in what the person typed (flag, scene key, camera name).

    The command line prints it as one line on stderr and exits with status 2.
    """
