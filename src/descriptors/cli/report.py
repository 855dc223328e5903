"""``no3rr report OUT``: one self-contained HTML page of a screen or an analysis."""

from __future__ import annotations

from pathlib import Path

from descriptors.cli.common import err


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write OUT/report.html: summary table, figures, anomalies, settings",
                       description="One self-contained HTML page (figures embedded) of a screen or analysis directory.")
    p.add_argument("out", help="output directory of `no3rr screen` or `no3rr analyze`, e.g. results/quickstart")
    p.add_argument("--to", help="where to write the page (default: OUT/report.html)")
    p.set_defaults(func=run)


def run(args) -> int:
    from descriptors.report.html import write_report

    out = Path(args.out)
    if not out.is_dir():
        return err(f"{args.out}: no such directory; give the output directory of a screen (e.g. results/quickstart)")
    try:
        path = write_report(out, args.to)
    except ValueError as e:
        return err(str(e))
    print(f"report: {path}")
    return 0
