"""`dti registry units` and `dti registry lineage` (registered by pipeline.cli).

They rewrite registry seeds from the ``vietnam-provinces`` and ``vietnamadminunits`` packages
(``ingest.registry_sources``); review the diff and commit it like any registry change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dti.settings import SEEDS_DIR

HCMC = 79


def _units(args: argparse.Namespace) -> int:
    from ingest.registry_sources import write_units

    active_to = args.to if args.to is not None else args.from_period
    count = write_units(args.registry, args.province, args.block, args.from_period, active_to)
    print(
        f"wrote {count} {args.block} units of province {args.province} "
        f"(active {args.from_period}–{active_to}) into {args.registry / 'units.csv'} "
        f"and their coordinates into {args.registry / 'unit_locations.csv'}"
    )
    return 0


def _lineage(args: argparse.Namespace) -> int:
    from ingest.registry_sources import write_lineage

    count = write_lineage(args.registry, args.province, args.from_period)
    print(
        f"wrote {count} lineage rows for the wards of province {args.province} "
        f"(from {args.from_period}) into {args.registry / 'unit_lineage.csv'}"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``units`` and ``lineage`` to the ``dti registry`` group."""

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--province", type=int, default=HCMC, help="official province code")
        parser.add_argument(
            "--from",
            dest="from_period",
            type=int,
            required=True,
            help="first period of the new units",
        )
        parser.add_argument(
            "--registry",
            type=Path,
            default=SEEDS_DIR,
            help=f"seed folder to rewrite (default {SEEDS_DIR})",
        )

    units = commands.add_parser(
        "units", help="refresh a province's wards in units.csv and unit_locations.csv"
    )
    common(units)
    units.add_argument("--block", default="phuong_xa", help="block of the wards")
    units.add_argument("--to", type=int, default=None, help="last active period (default --from)")
    units.set_defaults(func=_units)

    lineage = commands.add_parser(
        "lineage", help="refresh the wards' predecessors in unit_lineage.csv and former_units.csv"
    )
    common(lineage)
    lineage.set_defaults(func=_lineage)
