"""`dti ingest`, `dti ledger` and `dti quarantine` (registered by pipeline.cli, which hands in
its jobs: `dti ingest` is the intake job, with the warehouse held from start to end)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from dti.text import printable, printable_fields
from ingest import SOURCES


def _ingest(settings_from_args: Callable, print_json: Callable, jobs: Any) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        sources = tuple(dict.fromkeys(args.source or ["inbox"]))
        report = jobs.take_in(settings_from_args(args), sources).report
        if args.json:
            print_json(report.to_dict())
        else:
            print(report.summary())
            for result in report.results:
                if result.outcome != "loaded":
                    print(
                        f"  {result.outcome:9} {printable(result.source_file)}: "
                        f"{printable(result.reason)}"
                    )
            for error in report.errors:
                print(f"  error: {printable(str(error))}")
        return 1 if report.errors else 0

    return run


def _listing(kind: str, settings_from_args: Callable, print_json: Callable) -> Callable:
    def run(args: argparse.Namespace) -> int:
        from ingest import ledger, open_warehouse, quarantine

        settings = settings_from_args(args)
        if kind == "ledger":
            data = ledger.read(settings.warehouse)
        elif not settings.warehouse.exists():
            data = []
        else:
            con = open_warehouse(settings, read_only=True)
            try:
                has_raw = con.execute(
                    "select count(*) from duckdb_tables() where schema_name = 'raw'"
                ).fetchone()[0]
                data = quarantine.refused_rows(con) if has_raw else []
            finally:
                con.close()
        if args.json:
            print_json(data)
            return 0
        data = printable_fields(data)  # names, reasons and refused values, as sent
        if not data:
            print("no files or batches received yet" if kind == "ledger" else "no refused rows")
        elif kind == "ledger":
            for e in data:
                print(
                    f"{e['received_at']}  {e['outcome']:9} {e['rows_loaded']:>7} loaded "
                    f"{e['rows_refused']:>6} refused  {e['source']}:{e['source_file']}  "
                    f"{e['reason_code']}: {e['reason']}"
                )
        else:
            for r in data:
                print(
                    f"{r['source_file']} row {r['source_row']}: [{r['reason_code']}] {r['reason']}"
                )
        return 0

    return run


def register(
    sub: argparse._SubParsersAction,
    add_paths: Callable,
    settings_from_args: Callable,
    print_json: Callable,
    jobs: Any,
) -> None:
    ingest = sub.add_parser(
        "ingest", help="load new submissions (inbox files, portal API, portal database)"
    )
    ingest.add_argument(
        "--source",
        action="append",
        choices=SOURCES,
        help="source to pull, repeatable (default: inbox), e.g. --source portal_api",
    )
    ingest.add_argument(
        "--json", action="store_true", help="print the report as JSON instead of lines"
    )
    add_paths(ingest, "inbox", "warehouse", "registry")
    ingest.set_defaults(func=_ingest(settings_from_args, print_json, jobs))

    ledger = sub.add_parser("ledger", help="every file or batch received and what became of it")
    ledger.add_argument("--json", action="store_true", help="print a JSON list")
    add_paths(ledger, "warehouse")
    ledger.set_defaults(func=_listing("ledger", settings_from_args, print_json))

    quarantine = sub.add_parser("quarantine", help="refused rows with file, row and reason")
    quarantine.add_argument("--json", action="store_true", help="print a JSON list")
    add_paths(quarantine, "warehouse")
    quarantine.set_defaults(func=_listing("quarantine", settings_from_args, print_json))
