"""What every command shares: the exit codes and the one-line error message."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAILED = 1  # a screen ran but some jobs failed, or a lookup found nothing
EXIT_BAD_INPUT = 2  # bad spec or arguments: nothing was computed


def err(msg: str) -> int:
    """Print ``error: msg`` on stderr; return the bad-input exit code."""
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT
