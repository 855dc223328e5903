"""Command line: ``no3rr screen|status|analyze|lookup|validate|build|list|calculators``.

``main`` here is the program's entry point: it imports the commands (half a second) with Ctrl-C and
SIGTERM turned into a quiet exit 130 / 143, then runs ``cli.app.main``, which handles them itself.
The commands live in ``app.py``, not ``main.py``: importing a submodule named ``main`` would replace
this function as the package's ``main`` attribute (``from descriptors.cli import main`` would then
give a module).
"""

import signal
import sys
import threading

__all__ = ["build_parser", "main"]


def build_parser():
    from descriptors.cli.app import build_parser as _build

    return _build()


def main(argv=None) -> int:
    early = threading.current_thread() is threading.main_thread()
    if early:
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in old:
            signal.signal(s, lambda signum, frame: sys.exit(128 + signum))
    try:
        from descriptors.cli.app import main as _main
    finally:
        if early:
            for s, h in old.items():
                signal.signal(s, h)
    return _main(argv)
