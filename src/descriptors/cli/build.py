"""``no3rr build SPEC``: write the catalyst models of a spec as extxyz with their metadata."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    b = sub.add_parser("build", help="write the catalyst models of a spec as extxyz with metadata",
                       description="Build (no calculation) every catalyst model of a spec into --out.")
    b.add_argument("spec")
    b.add_argument("--out", default="structures/generated", help="directory for the .extxyz files")
    b.set_defaults(func=run)


def run(args) -> int:
    from ase.io import write

    from descriptors.specs import load_spec
    from descriptors.structures import expand_catalysts

    spec = load_spec(args.spec)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for m in expand_catalysts(spec):
        atoms = m.build(*m.unrelaxed_lattice())  # a given lattice constant, else the experimental one
        fname = out / (m.name.replace("/", "_").replace("(", "_").replace(")", "") + ".extxyz")
        info = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in atoms.info.items()}
        atoms.info = info
        write(fname, atoms, format="extxyz")
        print(f"{fname}  {atoms.get_chemical_formula()}  ({len(atoms)} atoms)")
    return 0
