"""`ftbot`: the shell front end (run the bot, and later validate, sample, sandbox)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _run(args: argparse.Namespace) -> int:
    import app

    return app.main()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-command per front end of a skill."""
    parser = argparse.ArgumentParser(prog="ftbot", description="FineTune Ops bot and tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="start the bot (HOST, PORT, FTBOT_DATA_DIR apply)")
    run.set_defaults(handler=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen sub-command; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
