"""Command line: ``no3rr screen|status|analyze|report|export|fidelity|finetune|lookup|validate|build|list|calculators``.

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
    export,
    fidelity,
    finetune,
    listing,
    lookup,
    report,
    screen,
    status,
    validate,
)
from descriptors.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, err

__all__ = ["build_parser", "main", "EXIT_BAD_INPUT"]

COMMANDS = (screen, validate, lookup, analyze, report, export, fidelity, finetune, build, listing, status)  # in the order `no3rr --help` lists them


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="no3rr", description="Descriptor screening for electrochemical nitrate reduction.")
    p.add_argument("--version", action="version", version=f"no3rr-descriptors {__version__}")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None) -> int:
    import signal

    from descriptors.engine import Interrupted, exit_code

    def _term(signum, frame):  # SIGTERM before a screen installs its own handlers: same as Ctrl-C
        raise Interrupted(signum)

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _term)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as e:  # before or after the work (the screen handles its own): nothing recorded
        print(f"\ninterrupted ({'SIGTERM' if getattr(e, 'signum', 2) == signal.SIGTERM else 'SIGINT'})",
              file=sys.stderr)
        return exit_code(e)
    except BrokenPipeError:  # `no3rr status OUT | head`: the reader left; not an error
        import os

        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_OK
    except Exception as e:
        if args.debug:
            raise
        return expected_error(e)


# The exceptions of an expected failure, by defining module: an exception can only be one of them
# if its module was imported, so the check imports nothing (`lookup` does not load the engine).
_EXPECTED = (("descriptors.specs.base", "SpecError"), ("descriptors.store.db", "StoreError"),
             ("descriptors.store.lock", "StoreLocked"), ("descriptors.engine.executors", "EngineError"))


class _NotLoaded(Exception):
    """Stands for an exception class whose module is not imported (no instance can exist)."""


def _loaded_class(module: str, name: str) -> type:
    mod = sys.modules.get(module)
    return getattr(mod, name) if mod is not None else _NotLoaded


def expected_error(e: BaseException) -> int:
    """One line on stderr for an expected failure (exit 2, or 1 when jobs failed); else re-raise."""
    if isinstance(e, _loaded_class("descriptors.engine.engine", "StageFailed")):
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(e, tuple(_loaded_class(m, n) for m, n in _EXPECTED)):
        return err(str(e))
    if isinstance(e, OSError) and e.filename is not None:  # unwritable/missing file or directory
        return err(f"{e.filename}: {e.strerror or e} (run with --debug for the traceback)")
    raise e  # not an expected failure: a bug, shown with its traceback


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
