"""`python -m bench.explanation`: what the explanation section of every unit page and the
answers files cost a national bundle (10,000 units × 50 indicators, one period).

Builds the warehouse once (ingest, seed, dbt build of the national registry of
``bench.national``), then publishes the period into empty folders with the unit pages'
*Giải trình kết quả* section and without it (``publish.site.unit_pages`` with no
explanations), and prints the time and the size of each bundle; then one unit's revised
submission, to show how many unit pages and answers files the next release writes again.
Figures go to BENCHMARKS.md by hand; no test asserts on them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from unittest import mock

from bench.national import NationalScale, write_inbox, write_one_submission, write_project
from dti.settings import DBT_PROJECT_DIR, PROJECT_ROOT, load_settings


def _bundle_figures(bundle: Path) -> dict:
    files = [p for p in bundle.rglob("*") if p.is_file() and "releases" not in p.parts]
    pages = [p for p in files if p.parent.name == "don-vi"]
    answers = [p for p in files if p.name.startswith("answers_")]
    return {
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "unit_pages": len(pages),
        "unit_page_bytes": sum(p.stat().st_size for p in pages),
        "answers_bytes": {p.name: p.stat().st_size for p in answers},
    }


def _publish(settings, period: int, explanations: bool) -> tuple[float, Path]:
    from publish import bundle, site

    patch = (
        mock.patch.object(site, "explanations", lambda marts: {})
        if not explanations
        else mock.patch.object(site, "explanations", site.explanations)
    )
    with patch:
        started = time.perf_counter()
        path = bundle.write_bundle(settings, period)
        seconds = time.perf_counter() - started
    return seconds, path.resolve()


def _answers_seconds(settings, period: int) -> float:
    """Rendering the answers files alone, from marts already read (the part they add)."""
    from publish.answers import render_answers
    from publish.marts import read_period

    marts, indicators = read_period(settings.warehouse, period)
    started = time.perf_counter()
    render_answers(marts, indicators, marts.blocks)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "bench" / "work-explanation")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the warehouse of an earlier run in --work"
    )
    parser.add_argument(
        "--only", choices=("with", "without"), help="one variant (two processes side by side)"
    )
    parser.add_argument(
        "--revision", action="store_true", help="then publish one unit's revised submission"
    )
    args = parser.parse_args(argv)
    period = 2025
    scale = NationalScale(units=args.units, periods=(period,))
    project = args.work / "dbt_project"
    settings = load_settings().with_paths(
        inbox=args.work / "inbox",
        warehouse=args.work / "warehouse.duckdb",
        out=args.work / "out",
        dbt_project_dir=project,
    )
    from pipeline import steps as pipeline

    if not (args.reuse and settings.warehouse.exists()):
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        write_project(scale, DBT_PROJECT_DIR, project)
        write_inbox(scale, args.work / "inbox")
        clock = time.perf_counter()
        pipeline.ingest_sources(settings)
        pipeline.seed_registry(settings)
        pipeline.build_models(settings, period, full_refresh=True)
        print(f"warehouse of {scale.units:,} units built in {time.perf_counter() - clock:.1f} s")

    result: dict = {"units": scale.units, "indicators": scale.indicators, "cpus": os.cpu_count()}
    variants = (("without", False), ("with", True))
    for label, explanations in [v for v in variants if args.only in (None, v[0])]:
        runs = []
        for i in range(args.repeat):
            out = args.work / f"out-{label}-{i}"
            shutil.rmtree(out, ignore_errors=True)
            seconds, bundle = _publish(settings.with_paths(out=out), period, explanations)
            runs.append(seconds)
        result[label] = {"min_s": round(min(runs), 2), "runs": [round(s, 2) for s in runs]}
        result[label].update(_bundle_figures(bundle))
        print(f"{label} explanation: {result[label]}")
    result["answers_render_s"] = round(_answers_seconds(settings, period), 2)
    if not args.revision or args.only == "without":
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0

    # one unit's revision on top of the bundle with explanations: what the next release writes
    out = args.work / f"out-with-{args.repeat - 1}"
    incremental = settings.with_paths(out=out)
    first = (out / str(period)).resolve()
    write_one_submission(scale, settings.inbox, unit=0, period=period)
    pipeline.ingest_sources(incremental)
    pipeline.build_models(incremental, period)
    seconds, second = _publish(incremental, period, True)
    rewritten = [
        p.relative_to(second).as_posix()
        for p in second.rglob("*")
        if p.is_file()
        and "releases" not in p.parts
        and (
            not (first / p.relative_to(second)).exists()
            or os.stat(p).st_ino != os.stat(first / p.relative_to(second)).st_ino
        )
    ]
    result["after_one_revision"] = {
        "publish_s": round(seconds, 2),
        "files_written": len(rewritten),
        "unit_pages_written": sum(p.startswith("don-vi/") for p in rewritten),
        "answers_written": sorted(p for p in rewritten if p.startswith("answers_")),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.only:
        return 0
    w, wo = result["with"], result["without"]
    print(
        f"\n| {scale.units:,} units × {scale.indicators} indicators | without the section | "
        f"with it | change |\n|---|---:|---:|---:|\n"
        f"| publish (min of {args.repeat}, s) | {wo['min_s']:.2f} | {w['min_s']:.2f} | "
        f"{w['min_s'] - wo['min_s']:+.2f} |\n"
        f"| bundle size (MB) | {wo['bytes'] / 1e6:.1f} | {w['bytes'] / 1e6:.1f} | "
        f"{(w['bytes'] - wo['bytes']) / 1e6:+.1f} |\n"
        f"| unit pages (MB) | {wo['unit_page_bytes'] / 1e6:.1f} | "
        f"{w['unit_page_bytes'] / 1e6:.1f} | "
        f"{(w['unit_page_bytes'] - wo['unit_page_bytes']) / 1e6:+.1f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
