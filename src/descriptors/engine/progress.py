"""Progress of a running stage: tqdm's bar in a terminal, a plain line every N seconds in a log file.

tqdm redraws its bar with carriage returns; written to a file (a Slurm log, ``2> log``) every
redraw becomes text, a line per job.  :func:`progress_bar` returns tqdm when the stream is a
terminal and otherwise a :class:`Progress` with the same methods the engine uses (``update``,
``set_postfix``, ``close``) that writes one complete line at start, at most one every
``interval`` seconds (``NO3RR_PROGRESS_SECONDS``, default 30) and one at the end.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any, Mapping

__all__ = ["Progress", "progress_bar", "DEFAULT_INTERVAL_S"]

DEFAULT_INTERVAL_S = 30.0


def _interval() -> float:
    text = os.environ.get("NO3RR_PROGRESS_SECONDS")
    if not text:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value >= 0 else DEFAULT_INTERVAL_S


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Line-per-interval progress for a log file: ``desc: 12/88 jobs (14 %), 0:41 elapsed, ...``."""

    def __init__(self, total: int, desc: str = "", unit: str = "job", file: IO[str] | None = None,
                 interval: float | None = None, disable: bool = False, clock=time.monotonic):
        self.total = int(total)
        self.desc = desc
        self.unit = unit
        self.file = file if file is not None else sys.stderr
        self.interval = _interval() if interval is None else float(interval)
        self.disable = disable
        self.n = 0
        self.postfix: dict[str, Any] = {}
        self._clock = clock
        self._t0 = clock()
        self._last = self._t0
        self._closed = False
        if not disable:
            self._write("started")

    def _line(self, note: str = "") -> str:
        elapsed = self._clock() - self._t0
        pct = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
        parts = [f"{self.desc}: {self.n}/{self.total} {self.unit}s{pct}", f"{_clock(elapsed)} elapsed"]
        if 0 < self.n < self.total and elapsed > 0:
            parts.append(f"~{_clock(elapsed / self.n * (self.total - self.n))} left")
        if self.postfix:
            parts.append(", ".join(f"{k} {v}" for k, v in self.postfix.items()))
        if note:
            parts.append(note)
        return ", ".join(parts)

    def _write(self, note: str = "") -> None:
        try:
            self.file.write(self._line(note) + "\n")
            self.file.flush()
        except (OSError, ValueError):  # a closed or broken log must not stop the screen
            pass
        self._last = self._clock()

    def _maybe(self) -> None:
        if not self.disable and self._clock() - self._last >= self.interval:
            self._write()

    def update(self, n: int = 1) -> None:
        self.n += n
        self._maybe()

    def set_postfix(self, ordered_dict: Mapping[str, Any] | None = None, refresh: bool = True, **kwargs) -> None:
        self.postfix = dict(ordered_dict or {}, **kwargs)
        if refresh:
            self._maybe()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.disable:
            self._write("finished" if self.n >= self.total else "stopped")


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(total: int, desc: str, disable: bool = False, file: IO[str] | None = None, unit: str = "job"):
    """tqdm's bar on a terminal, :class:`Progress` lines otherwise (same update/set_postfix/close)."""
    stream = file if file is not None else sys.stderr
    if _is_terminal(stream):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, disable=disable, file=stream, dynamic_ncols=True)
    return Progress(total, desc, unit=unit, file=stream, disable=disable)
