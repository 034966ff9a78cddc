"""The ``tetherfocus`` command.

Each package contributes its own subcommands through a ``register(subparsers)`` function in
its ``cli`` module; this file only assembles them.  A subcommand exists only when it is
built: nothing here is a placeholder.

Errors a person can make (a wrong flag, a scene key, a camera name) end in one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tetherfocus import __version__
from tetherfocus.errors import UsageError

# Modules that contribute subcommands, in the order they appear in --help.
_CLI_MODULES = (
    "camera_node.cli",
    "controller.process_cli",
    "controller.cli",
    "viewer.cli",
    "tetherfocus.demo_cli",
    "tetherfocus.security",
    "tetherfocus.rig_cli",
    "tetherfocus.reliability_cli",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tetherfocus",
        description="Precise, repeatable focus for tethered DSLRs, over ZeroMQ.",
    )
    parser.add_argument("--version", action="version", version=f"tetherfocus {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _CLI_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that part is not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except UsageError as exc:
        print(f"tetherfocus: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
