"""``no3rr validate SPEC``: check a spec; exit 2 with the field and the fix if it is wrong."""

from __future__ import annotations


def add_parser(sub) -> None:
    v = sub.add_parser("validate", help="check a spec without computing anything",
                       description="Validate a spec; exit 2 with the field and the fix if it is wrong.")
    v.add_argument("spec")
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
    print(estimate_cost(spec, models)[2])
    return 0
