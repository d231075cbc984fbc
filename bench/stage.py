"""Runs one stage of the pipeline in this process and prints its wall time as JSON.

`bench.run` starts one process per measurement so that each stage's peak memory is its own
(read by the parent from the child's resource usage).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dti.settings import load_settings
from dti.vocabulary import CHECKPOINTS

STEPS = ("ingest", "seed", "build", "validate", "publish", "run", "floor")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=STEPS)
    parser.add_argument("--inbox", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--period", type=int, required=True)
    parser.add_argument("--full-refresh", action="store_true")
    args = parser.parse_args(argv)
    settings = load_settings().with_paths(
        inbox=args.inbox, warehouse=args.warehouse, out=args.out, dbt_project_dir=args.project
    )
    from pipeline import steps as pipeline

    started = time.perf_counter()
    extra: dict = {}
    if args.stage == "ingest":
        report = pipeline.ingest_sources(settings)
        extra = {"rows_loaded": report.rows_loaded, "rows_refused": report.rows_refused}
    elif args.stage == "seed":
        pipeline.seed_registry(settings)
    elif args.stage == "build":
        pipeline.build_models(settings, args.period, full_refresh=args.full_refresh)
    elif args.stage == "validate":
        for checkpoint in CHECKPOINTS:
            pipeline.validate_checkpoint(settings, checkpoint, args.period)
    elif args.stage == "publish":
        pipeline.publish_bundle(settings, args.period)
    elif args.stage == "run":
        # the libraries a fresh `dti run` process loads, timed as a step of their own
        clock = time.perf_counter()
        import dbt.cli.main  # noqa: F401
        import great_expectations  # noqa: F401

        imports = round(time.perf_counter() - clock, 3)
        summary = pipeline.run(settings, args.period, full_refresh=args.full_refresh)
        extra = {"steps": {"imports": imports, **summary.step_seconds}}
    elif args.stage == "floor":
        import duckdb

        sql = (Path(__file__).parent / "floor.sql").read_text()
        con = duckdb.connect(str(settings.warehouse))
        try:
            con.execute(sql)
            extra = {
                "units": con.execute("select count(*) from bench_floor_unit_scores").fetchone()[0]
            }
            con.execute("drop table bench_floor_unit_scores")
        finally:
            con.close()
    seconds = time.perf_counter() - started
    print(json.dumps({"stage": args.stage, "seconds": seconds, **extra}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
