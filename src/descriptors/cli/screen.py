"""``no3rr screen SPEC``: run every job of a spec not yet in the store, then the tables."""

from __future__ import annotations

from descriptors.cli.common import err


def add_parser(sub) -> None:
    s = sub.add_parser("screen", help="run a screening spec (resumes: stored jobs are not recomputed)",
                       description="Run every job of a TOML spec not yet in the store; write tables.")
    s.add_argument("spec", help="path to a TOML spec, e.g. workflows/quickstart.toml")
    s.add_argument("--out", help="output directory (default: the spec's 'output')")
    s.add_argument("--workers", type=int, help="local worker processes (default: spec execution.workers)")
    s.add_argument("--retry-failed", action="store_true", help="recompute jobs stored as failed")
    s.add_argument("--engine", choices=["local", "slurm", "serial"],
                   help="where jobs run (default: the spec's [engine] type, 'local' = Parsl workers on this machine)")
    s.add_argument("--db", help="result database: SQLite path or postgresql://user:pw@host/db (default: OUT/screen.db)")
    s.add_argument("--wait", action="store_true",
                   help="if another screen is writing to the same store, wait for it instead of stopping (exit 2)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--quiet", action="store_true", help="only the final summary")
    s.add_argument("--include-flagged", action="store_true",
                   help="let rows flagged by the anomaly checks (desorbed, dissociated, ...) be the lowest site")
    s.set_defaults(func=run)


def run(args) -> int:
    from descriptors.engine import Interrupted, exit_code
    from descriptors.specs import load_spec
    from descriptors.store import Store, best_rows, redact, site_rows
    from descriptors.workflows.screen import run_screen

    spec = load_spec(args.spec)
    if args.workers is not None and args.workers < 1:
        return err("--workers must be >= 1")
    if args.db and "://" in args.db and not args.db.startswith(("postgresql://", "postgres://")):
        return err(f"--db {args.db}: give a file path (SQLite) or a postgresql://user:password@host/dbname URL")
    try:
        res = run_screen(spec, out=args.out, workers=args.workers, retry_failed=args.retry_failed or None,
                         progress=not args.no_progress, quiet=args.quiet, include_flagged=args.include_flagged,
                         engine=args.engine, db=args.db, wait=args.wait)
    except Interrupted as e:  # SIGINT / SIGTERM: workers stopped, nothing cut short was recorded
        import shlex
        import signal
        import sys

        resume = f"no3rr screen {shlex.quote(args.spec)}" + "".join(
            f" --{k} {shlex.quote(redact(str(v)))}" for k, v in (("out", args.out), ("db", args.db),
                                                                   ("engine", args.engine), ("workers", args.workers))
            if v is not None)
        print(f"\ninterrupted by {signal.Signals(e.signum).name}: every finished job is stored, the jobs cut short "
              f"are pending (none was recorded as failed). Resume with: {resume}", file=sys.stderr, flush=True)
        return exit_code(e)
    st = res.stats
    if not args.quiet:
        _print_matrix(best_rows(site_rows(Store(res.db), res.job_ids["adsorbate"]),
                                include_flagged=args.include_flagged))
    print(f"computed {st['computed']} jobs, reused {st['reused']} from the store, "
          f"{st['failed']} failed now, {st['failed_reused']} failed earlier (not retried); "
          f"{st['wall_seconds']:.1f} s")
    for s in res.skipped:
        print(f"skipped: {s}")
    print(f"tables: {res.tables['adsorption_energies']}  (convention: {res.tables['readme']})")
    print(f"database: {redact(res.db)}")
    if res.verify is not None:
        from descriptors.workflows.verify import format_summary

        for line in format_summary(res.verify):
            print(line)
        print(f"verify tables: {res.tables['verify_best']}, {res.tables['verify_summary']}")
    if st["failed_reused"]:
        print(f"{st['failed_reused']} jobs stored as failed remain: see `no3rr status {res.out}`; "
              "recompute them with --retry-failed")
    return 1 if (st["failed"] or st["failed_reused"] or res.skipped) else 0


def _print_matrix(best) -> None:
    """E_ads (eV) of the best site, catalysts as rows and adsorbates as columns, flagged (!) and
    unconverged (~) values marked, with the legend and the reasons under the table."""
    from descriptors.report.tables import format_matrix

    for line in format_matrix(best):
        print(line)
