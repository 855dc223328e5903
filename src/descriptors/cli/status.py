"""``no3rr status OUT``: done / failed (grouped by reason) / pending jobs of a screen."""

from __future__ import annotations

import json

from descriptors.cli.common import err


def add_parser(sub) -> None:
    st = sub.add_parser("status", help="done / failed (with reasons) / pending jobs of a screen",
                        description="Summarize a screen's output directory: done, failed grouped by reason, pending.")
    st.add_argument("out", help="output directory of a screen, e.g. results/quickstart")
    st.add_argument("--db", help="database, if not the one the screen recorded in OUT/plan.json")
    st.add_argument("--show", type=int, default=10, help="list at most this many jobs per group")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=run)


def run(args) -> int:
    from descriptors.report.status import format_status, summarize

    try:
        s = summarize(args.out, args.db)
    except FileNotFoundError as e:
        return err(str(e))
    if args.json:
        print(json.dumps(s, indent=2, default=str))
    else:
        print(format_status(s, show=args.show))
    return 1 if (s["failed"] or s["pending"] or not s["complete"]) else 0
