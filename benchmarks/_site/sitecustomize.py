"""Start-up hook of the benchmark's child processes (on PYTHONPATH only while benchmarking).

When ``NO3RR_BENCH_CALLS`` names a directory, count this process's calculator calls there (see
``benchmarks/callcount.py``), then run the interpreter's own ``sitecustomize`` if there is one
(Debian ships one), so nothing else changes.
"""

import importlib
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_root = os.path.dirname(os.path.dirname(_here))  # the repository: holds the `benchmarks` package
_dir = os.environ.get("NO3RR_BENCH_CALLS")
if _dir:
    try:
        sys.path.insert(0, _root)
        from benchmarks.callcount import install

        install(_dir)
    except Exception as err:  # never break the interpreter start-up
        print(f"benchmarks: call counting not installed: {err}", file=sys.stderr)
    finally:
        if sys.path and sys.path[0] == _root:
            sys.path.pop(0)

# chain to the next sitecustomize on the path
_saved = sys.path[:]
try:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    _self = sys.modules.pop("sitecustomize", None)
    try:
        importlib.import_module("sitecustomize")
    except ImportError:
        pass
    if _self is not None:
        sys.modules["sitecustomize"] = _self
finally:
    sys.path[:] = _saved
