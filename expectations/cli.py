"""`dti validate` and `dti audit`: the gate and the audit trail from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from dti.vocabulary import CHECKPOINTS


def register(
    sub: argparse._SubParsersAction,
    add_paths: Callable[..., None],
    settings_from_args: Callable[[argparse.Namespace], Any],
    print_json: Callable[[object], None],
    jobs: Any,
) -> None:
    """Adds the ``validate`` and ``audit`` subcommands to the ``dti`` parser; ``jobs`` are
    pipeline.jobs (`dti validate` writes the audit trail, so it holds the warehouse)."""

    validate = sub.add_parser(
        "validate", help="run the Great Expectations suite of one checkpoint (the gate)"
    )
    validate.add_argument(
        "--checkpoint",
        choices=CHECKPOINTS,
        required=True,
        help="checkpoint to validate, e.g. scores",
    )
    validate.add_argument("--period", type=int, required=True, help="period to validate, e.g. 2023")
    validate.add_argument(
        "--json", action="store_true", help="print the run (its manifest entry) as JSON"
    )
    add_paths(validate, "warehouse")

    def cmd_validate(args: argparse.Namespace) -> int:
        # an operator who asks for a validation gets one, even of data that passed before
        run = jobs.validate(settings_from_args(args), args.checkpoint, args.period)
        if args.json:
            print_json(run.to_manifest())
        else:
            stats = run.statistics
            print(
                f"suite {run.suite} passed for period {run.period}: "
                f"{stats['successful_expectations']}/{stats['evaluated_expectations']} "
                f"expectations, {len(run.warnings)} warning(s); run {run.run_id}"
            )
            for warning in run.warnings:
                print(f"  warning: {warning}")
            print(f"  report: {run.report_path}")
        return 0

    validate.set_defaults(func=cmd_validate)

    audit = sub.add_parser("audit", help="print the audit trail of a period's latest publication")
    audit.add_argument("--period", type=int, required=True, help="period to audit, e.g. 2023")
    audit.add_argument("--json", action="store_true", help="print the trail as JSON")
    add_paths(audit, "warehouse", "out")

    def cmd_audit(args: argparse.Namespace) -> int:
        from expectations.audit import no_publication, render_audit

        # the trail, and the check of the council's approvals and signatures (pipeline.jobs)
        report = jobs.audit(settings_from_args(args), args.period)
        if args.json:
            print_json(report)
        else:
            print(render_audit(report))
        # the runs are still printed (a failed gate is worth reading), but without a bundle
        # there is nothing to audit: say where it looked, and fail
        if reason := no_publication(report):
            print(f"dti audit: {reason}", file=sys.stderr)
            return 1
        council = report.get("council") or {}
        if not council.get("ok", True):
            print(
                f"dti audit: kỳ {args.period}, bản {council.get('release')} bị từ chối: "
                + "; ".join(council.get("problems") or []),
                file=sys.stderr,
            )
            return 1
        return 0

    audit.set_defaults(func=cmd_audit)
