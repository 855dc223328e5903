"""The check of an output directory, before any work (its own module: ``no3rr analyze`` needs it
without importing the screen's machinery)."""

from __future__ import annotations

import os
from pathlib import Path

from descriptors.specs import SpecError

__all__ = ["check_out"]


def check_out(out: Path) -> None:
    """The output directory can be made and written, else SpecError naming it (before any work)."""
    for p in [out, *out.parents]:
        if p.exists():
            if not p.is_dir():
                raise SpecError(f"--out {out}: {p} is a file, not a directory; give a directory for the outputs")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SpecError(f"--out {out}: cannot create it ({err.strerror}); give a directory you can write to") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise SpecError(f"--out {out}: not writable; give a directory you can write to")
