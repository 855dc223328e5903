"""Command line: ``no3rr screen|status|analyze|fidelity|lookup|validate|build|list|calculators``.

Each command is one module of this folder with ``add_parser(sub)`` (its arguments, and
``set_defaults(func=...)``) and the function that runs it.  Exit codes: 0 success, 1 a screen ran
but some jobs failed or a lookup found nothing, 2 bad input (spec, arguments): nothing computed.
"""

from __future__ import annotations

import argparse
import sys

from descriptors import __version__
from descriptors.cli import (
    analyze,
    build,
    fidelity,
    listing,
    lookup,
    screen,
    status,
    validate,
)
from descriptors.cli.common import EXIT_BAD_INPUT, err

__all__ = ["build_parser", "main", "EXIT_BAD_INPUT"]

COMMANDS = (screen, validate, lookup, analyze, fidelity, build, listing, status)  # in the order `no3rr --help` lists them


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="no3rr", description="Descriptor screening for electrochemical nitrate reduction.")
    p.add_argument("--version", action="version", version=f"no3rr-descriptors {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from descriptors.specs import SpecError

    try:
        return int(args.func(args) or 0)
    except SpecError as e:  # bad spec: reported before anything is computed
        return err(str(e))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
