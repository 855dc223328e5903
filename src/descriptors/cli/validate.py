"""``no3rr validate SPEC``: check a spec; exit 2 with the field and the fix if it is wrong."""

from __future__ import annotations


def add_parser(sub) -> None:
    v = sub.add_parser("validate", help="check a spec without computing anything",
                       description="Validate a spec; exit 2 with the field and the fix if it is wrong.")
    v.add_argument("spec")
    v.add_argument("--db", help="store whose finished jobs calibrate the cost estimate (default: the spec's "
                                "output/screen.db, when it exists)")
    v.set_defaults(func=run)


def run(args) -> int:
    from descriptors.specs import load_spec
    from descriptors.structures import expand_catalysts

    spec = load_spec(args.spec)
    models = expand_catalysts(spec)
    print(f"{args.spec}: valid; {len(models)} catalyst models, {len(spec.adsorbate_names())} adsorbates, "
          f"calculator {spec.calculator.setting().label()}")
    from descriptors.specs.cost import estimate_cost, gamma_only_warnings

    for w in gamma_only_warnings(spec, models):
        print(f"warning: {w}")
    from pathlib import Path

    db = Path(args.db) if args.db else Path(spec.output) / "screen.db"
    if args.db and not db.is_file():
        from descriptors.cli.common import err

        return err(f"--db {args.db}: no such database; give the screen.db of a screen (or leave --db out)")
    from descriptors.workflows.stages import count_jobs

    counts = count_jobs(spec, models)  # the planner's own sites and binding modes, nothing placed
    print(estimate_cost(spec, models, db=db if db.is_file() else None, counts=counts)[2])
    return 0
