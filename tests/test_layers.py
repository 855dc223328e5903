"""The package's shape: each folder is one layer and imports only run downward, without cycles.

Every import of a ``descriptors`` module is read from the source (module level and inside
functions alike) and checked against the layer order below.  Run ``python -m pytest
tests/test_layers.py -q`` after moving code; the failure names the file, the line and the import.
"""

import ast
from pathlib import Path

import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

PKG = Path(__file__).resolve().parents[1] / "src" / "descriptors"

# Lower numbers are lower layers; a module may import its own folder and any lower layer.
LAYERS = {
    "identity": 0, "convention": 0, "lazy": 0,
    "calculators": 1, "geometry": 1,
    "structures": 2, "store": 2, "tasks": 2,
    "specs": 3,
    "analysis": 4, "engine": 4,
    "report": 5,
    "workflows": 6,
    "cli": 7,
}
MAX_LINES = 420  # "no module over about 400 lines"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a descriptors module in ``path``."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("descriptors"):
            for alias in node.names:  # 'from descriptors.cli import screen' imports a module
                sub = f"{node.module}.{alias.name}"
                out.append((node.lineno, sub if _is_module(sub) else node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("descriptors")]
    return out


def _is_module(name: str) -> bool:
    p = PKG.parent.joinpath(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package root (__version__)


def _graph():
    files = sorted(PKG.rglob("*.py"))
    return {_module_name(f): (f, _imports(f)) for f in files}


def test_every_folder_has_a_layer():
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}
    assert folders | modules == set(LAYERS), "add the new folder to LAYERS (and to the README's tree)"


def test_imports_run_downward():
    wrong = []
    for mod, (path, imports) in _graph().items():
        here = _layer(mod)
        if here is None:
            continue
        for line, target in imports:
            there = _layer(target)
            if there is None or there == here:
                continue
            if LAYERS[there] >= LAYERS[here]:
                wrong.append(f"{path.relative_to(PKG)}:{line}: {here} (layer {LAYERS[here]}) imports {target} "
                             f"(layer {LAYERS[there]})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_no_import_cycles():
    graph = _graph()
    names = sorted(graph)
    index = {n: i for i, n in enumerate(names)}
    rows, cols = [], []
    for mod, (_, imports) in graph.items():
        for _, target in imports:
            # importing a submodule runs its package's __init__ too
            parts = target.split(".")
            for k in range(2, len(parts) + 1):
                t = ".".join(parts[:k])
                if t in index and t != mod and not mod.startswith(t + "."):
                    rows.append(index[mod])
                    cols.append(index[t])
    m = csr_matrix(([1] * len(rows), (rows, cols)), shape=(len(names), len(names)))
    n, labels = connected_components(m, directed=True, connection="strong")
    cycles = [sorted(names[i] for i in range(len(names)) if labels[i] == c) for c in range(n)]
    cycles = [c for c in cycles if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_modules_stay_small(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PKG)} has {n} lines; split it (about 400 at most)"
