"""``no3rr list adsorbates|calculators`` and ``no3rr calculators``: the built-in libraries."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    ls = sub.add_parser("list", help="list adsorbates or calculators", description="List the built-in libraries.")
    ls.add_argument("what", choices=["adsorbates", "calculators"])
    ls.set_defaults(func=run_list)

    ca = sub.add_parser("calculators", help="registered calculators: fidelity, usable here (or what to install), elements",
                        description="List every registered calculator, whether it is usable on this machine "
                                    "(and if not, what to install), its fidelity and the elements it treats.")
    ca.add_argument("--json", action="store_true", help="machine-readable output")
    ca.set_defaults(func=run_calculators)


def run_list(args) -> int:
    from descriptors.geometry.adsorbates import ADSORBATES

    if args.what == "adsorbates":
        for a in ADSORBATES.values():
            modes = "; ".join(f"{m.name}-bound on {'/'.join(m.sites)}" for m in a.modes)
            print(f"{a.name:7s} {modes:55s} {a.description}")
    else:
        args.json = getattr(args, "json", False)
        return run_calculators(args)
    return 0


def run_calculators(args) -> int:
    """Every registered calculator: fidelity, usable here or what to install, elements."""
    from descriptors.calculators import describe_calculators

    rows = describe_calculators()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    w = max(9, *(len(r["name"]) for r in rows))  # 'sevennet-ft'
    print(f"{'name':{w}s} {'fidelity':15s} {'usable':7s} {'version':13s} elements")
    for r in rows:
        print(f"{r['name']:{w}s} {r['fidelity']:15s} {'yes' if r['usable'] else 'NO':7s} {r['version']:13s} "
              f"{r['elements_text']}")
        print(f"{'':{w}s} {r['description']}; params: {', '.join(r['params']) or '-'}")
        if not r["usable"]:
            print(f"{'':{w}s} missing: {r['missing']}")
    return 0
