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
    parser.add_argument(
        "--preload",
        action="store_true",
        help="import dbt, GX and the pipeline before the clock starts, as the Airflow "
        "deployment's forkserver does for its workers (AIRFLOW__CORE__MP_FORKSERVER_PRELOAD)",
    )
    args = parser.parse_args(argv)
    settings = load_settings().with_paths(
        inbox=args.inbox, warehouse=args.warehouse, out=args.out, dbt_project_dir=args.project
    )
    from pipeline import jobs
    from pipeline import steps as pipeline

    preload = 0.0
    if args.preload:
        clock = time.perf_counter()
        # what orchestration.stack.PRELOAD_MODULES names, Airflow's own modules aside
        import dbt.adapters.duckdb  # noqa: F401
        import dbt.cli.main  # noqa: F401
        import great_expectations  # noqa: F401

        import expectations.gate  # noqa: F401
        import expectations.suites  # noqa: F401
        import ingest  # noqa: F401
        import publish.bundle  # noqa: F401

        preload = round(time.perf_counter() - clock, 3)
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
        # dbt and GX are imported by the steps that need them (a run that finds nothing new
        # imports neither): their import time is part of those steps, unless preloaded
        (summary,) = jobs.run(settings, [args.period], full_refresh=args.full_refresh)
        extra = {"steps": dict(summary.step_seconds)}
        if args.preload:
            extra["preload_s"] = preload
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
