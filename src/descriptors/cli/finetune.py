"""``no3rr finetune SPEC``: fine-tune the cheap ML potential on the screen's expensive level
(``[finetune]``), store the model beside the screen, re-rank the remaining catalysts with it and
run the expensive level only on their best placements (workflows/finetune.py)."""

from __future__ import annotations

from descriptors.cli.common import err


def add_parser(sub) -> None:
    s = sub.add_parser("finetune", help="fine-tune the ML level on the [verify] level and re-rank the rest",
                       description="Run the screen of SPEC (stored jobs are reused) with its [verify] level on "
                                   "the [finetune] training catalysts, fine-tune the cheap ML potential on every "
                                   "expensive frame, store the model in OUT/models/<hash>/ and re-rank the "
                                   "remaining catalysts with it; the expensive level runs on its top-k only.")
    s.add_argument("spec", help="a TOML spec with [calculator] name = 'chgnet' or 'sevenn', a [verify] and a "
                                "[finetune] table")
    s.add_argument("--out", help="output directory (default: the spec's 'output')")
    s.add_argument("--workers", type=int, help="local worker processes (default: spec execution.workers)")
    s.add_argument("--engine", choices=["local", "slurm", "serial"], help="where jobs run (default: the spec's)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--quiet", action="store_true", help="only the final summary")
    s.set_defaults(func=run)


def run(args) -> int:
    import shlex
    import signal
    import sys

    from descriptors.calculators import CalculatorUnavailableError
    from descriptors.engine import Interrupted, exit_code
    from descriptors.specs import load_spec
    from descriptors.workflows.screen import run_screen

    spec = load_spec(args.spec)
    if spec.finetune is None:
        return err(f"{args.spec}: no [finetune] table; add one (README 'Fine-tuning on the expensive level'), "
                   "e.g. [finetune] epochs = 30")
    if args.workers is not None and args.workers < 1:
        return err("--workers must be >= 1")
    try:
        res = run_screen(spec, out=args.out, workers=args.workers, progress=not args.no_progress, quiet=args.quiet,
                         engine=args.engine, finetune=True)
    except Interrupted as e:
        resume = f"no3rr finetune {shlex.quote(args.spec)}" + (f" --out {shlex.quote(args.out)}" if args.out else "")
        print(f"\ninterrupted by {signal.Signals(e.signum).name}: every finished job and a finished model are "
              f"stored; resume with: {resume}", file=sys.stderr, flush=True)
        return exit_code(e)
    except CalculatorUnavailableError as e:  # a missing or altered model artefact
        return err(str(e))
    f = res.finetune
    part = "early_stop" if "early_stop" in f["errors_after"] else "fit"
    b, a = f["errors_before"][part], f["errors_after"][part]
    print(f"fine-tuned model {f['model']} ({f['models_dir']}/{f['model']}): trained on {', '.join(f['trained_on'])}"
          + (f", early stop on {', '.join(f['early_stop_on'])}" if f["early_stop_on"] else ", no early stopping")
          + f" (kept epoch {f['best_epoch']})")
    print(f"{part.replace('_', '-')} error: energy {b['energy_mae_eV']:.3f} -> {a['energy_mae_eV']:.3f} eV/structure, "
          f"forces {b['force_mae_eV_per_A']:.3f} -> {a['force_mae_eV_per_A']:.3f} eV/A"
          + (f", E_ads {b['e_ads_mae_eV']:.3f} -> {a['e_ads_mae_eV']:.3f} eV" if a.get("e_ads_mae_eV") is not None
             else ""))
    print(f"re-ranked with it: {', '.join(f['re_ranked'])} ({f['mode']})")
    from descriptors.workflows.verify import format_summary

    for line in format_summary(f["verify"]):
        print(line)
    print(f"summary: {res.tables['finetune_summary']}; compare the levels with: no3rr fidelity {res.out}")
    st = res.stats
    for s_ in res.skipped:
        print(f"skipped: {s_}")
    return 1 if (st["failed"] or st["failed_reused"] or res.skipped) else 0
