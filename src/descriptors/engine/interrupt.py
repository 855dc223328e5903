"""Clean interrupts: SIGINT / SIGTERM stop a screen without a wrong row.

``interrupts()`` (a context manager, main thread only) installs handlers for the life of a screen.
The first signal sets ``REQUESTED`` and raises ``Interrupted`` in the driver: the engine stops
submitting, shuts its workers down and records *nothing* that finishes after the signal arrived
as a failure (a job cut short stays pending and is computed on the next run).  A second signal
exits at once (after killing the worker processes), as a user pressing Ctrl-C twice expects.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Callable

__all__ = ["Interrupted", "interrupts", "requested", "exit_code", "on_second"]


class Interrupted(KeyboardInterrupt):
    """The screen was stopped by a signal (``signum``); exit code 128 + signum."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_state: dict = {"signum": None, "kill": []}


def requested() -> int | None:
    """The signal that asked the screen to stop, or None."""
    return _state["signum"]


def exit_code(err: BaseException) -> int:
    return 128 + getattr(err, "signum", signal.SIGINT)


def on_second(fn: Callable[[], None]) -> Callable[[], None]:
    """Register ``fn`` (e.g. kill the worker pool) to run before a second signal exits; returns the remover."""
    _state["kill"].append(fn)
    return lambda: _state["kill"].remove(fn) if fn in _state["kill"] else None


def _handler(signum, frame):
    if _state["signum"] is not None:  # second signal: out now
        for fn in list(_state["kill"]):
            try:
                fn()
            except Exception:
                pass
        os._exit(128 + signum)
    _state["signum"] = signum
    raise Interrupted(signum)


@contextmanager
def interrupts():
    """Install the handlers (a no-op outside the main thread); restore the previous ones after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _state["signum"] = None
    for s in old:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _state["signum"] = None
