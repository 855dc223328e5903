"""``no3rr fidelity STORE``: every pair of calculator levels of a store compared on the same
placements (MAE, max error, Pearson/Spearman per adsorbate, AdsorbML success at k = 1..5 and the
expensive calls saved, a parity plot per pair), and optionally a reference table's trends."""

from __future__ import annotations

from pathlib import Path

from descriptors.cli.common import err


def add_parser(sub) -> None:
    p = sub.add_parser("fidelity", help="compare the calculator levels of a store (cheap vs verify level)",
                       description="Compare every pair of calculator levels in a store on the same placements; "
                                   "optionally compare each level's trends with a reference table.")
    p.add_argument("store", help="a screen's database (screen.db) or its output directory")
    p.add_argument("--reference", help="CSV with columns catalyst, adsorbate, energy (eV): trends compared "
                                       "after removing each adsorbate's mean offset")
    p.add_argument("--out", help="where fidelity.json, fidelity_pairs.csv and the parity plots go "
                                 "(default: STORE's directory / fidelity)")
    p.add_argument("--tolerance", type=float, default=0.1, help="AdsorbML success threshold, eV (default 0.1)")
    p.set_defaults(func=run)


def run(args) -> int:
    from descriptors.analysis.fidelity import fidelity_report, format_report
    from descriptors.store.db import Store

    path = Path(args.store)
    db = path / "screen.db" if path.is_dir() else path
    if not db.is_file():
        return err(f"STORE {args.store}: no database there; give a screen's screen.db or its output directory")
    if args.reference and not Path(args.reference).is_file():
        return err(f"--reference {args.reference}: no such file; give a CSV with columns catalyst, adsorbate, energy")
    if not args.tolerance > 0:
        return err(f"--tolerance {args.tolerance}: must be a positive energy in eV, e.g. 0.1")
    out = Path(args.out) if args.out else db.parent / "fidelity"
    try:
        report = fidelity_report(Store(db), out, args.reference, args.tolerance)
    except ValueError as e:
        return err(str(e))
    print("\n".join(format_report(report)))
    print(f"\nwritten: {out / 'fidelity.json'}, {out / 'fidelity_pairs.csv'}")
    return 0
