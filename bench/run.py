"""`make bench`: national-scale figures, each stage side by side with the raw DuckDB floor.

Every measurement runs in its own process (peak memory is that process's maximum resident
set); each is repeated and reported as min and median. Figures are ratios measured in this
one run, never compared with constants from another machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.national import NationalScale, write_inbox, write_one_submission, write_project
from bench.results import merge_results
from dti.settings import DBT_PROJECT_DIR, PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results.json"
REPORT = PROJECT_ROOT / "BENCHMARKS.md"


def measure(stage: str, paths: dict[str, Path], period: int, *extra: str) -> dict:
    """One stage in a child process: wall seconds (inside the child) and peak RSS in MiB."""
    cmd = [sys.executable, "-m", "bench.stage", stage, "--period", str(period)]
    for name, path in paths.items():
        cmd += [f"--{name}", str(path)]
    cmd += list(extra)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=PROJECT_ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"bench stage {stage} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["process_seconds"] = wall
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def summarise(samples: list[dict]) -> dict:
    seconds = [s["seconds"] for s in samples]
    fastest = min(samples, key=lambda s: s["seconds"])
    return {
        "min_s": round(min(seconds), 3),
        "median_s": round(statistics.median(seconds), 3),
        "peak_rss_mib": round(max(s["peak_rss_mib"] for s in samples), 1),
        "runs": len(samples),
        # what the fastest sample reported besides its time (rows, per-step seconds)
        **{
            k: v
            for k, v in fastest.items()
            if k not in {"seconds", "process_seconds", "peak_rss_mib", "stage"}
        },
    }


def fresh(work: Path, name: str, inbox_master: Path) -> dict[str, Path]:
    base = work / name
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    shutil.copytree(inbox_master, base / "inbox")
    return {"inbox": base / "inbox", "warehouse": base / "warehouse.duckdb", "out": base / "out"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=int(os.environ.get("BENCH_UNITS", 10_000)))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 3)))
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "bench" / "work")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    scale = NationalScale(units=args.units)
    period = scale.periods[-1]
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"generating {scale.units} units × {scale.indicators} indicators × {len(scale.periods)} periods "
          f"= {scale.answers:,} answers", flush=True)  # fmt: skip
    project = write_project(scale, DBT_PROJECT_DIR, work / "dbt_project")
    inbox_master = work / "inbox_master"
    files = write_inbox(scale, inbox_master)
    print(f"{len(files)} CSV files in {inbox_master}", flush=True)

    figures: dict[str, dict] = {}

    def record(name: str, samples: list[dict]) -> None:
        figures[name] = summarise(samples)
        f = figures[name]
        print(f"  {name:<22} min {f['min_s']:>8.2f} s   median {f['median_s']:>8.2f} s   "
              f"peak {f['peak_rss_mib']:>7.0f} MiB", flush=True)  # fmt: skip

    # ingest: files → raw tables, on a fresh warehouse each time
    samples = []
    for i in range(args.repeat):
        paths = fresh(work, f"ingest{i}", inbox_master)
        samples.append(measure("ingest", {**paths, "project": project}, period))
    record("ingest", samples)
    figures["ingest"]["answers_per_s"] = round(scale.answers / figures["ingest"]["min_s"])

    # the loaded warehouse of the last ingest serves every later stage
    paths = {**paths, "project": project}
    measure("seed", paths, period)
    record("floor_sql", [measure("floor", paths, period) for _ in range(args.repeat)])
    record(
        "dbt_build", [measure("build", paths, period, "--full-refresh") for _ in range(args.repeat)]
    )
    record("validate_all", [measure("validate", paths, period) for _ in range(args.repeat)])
    # a full publish each time: into an empty folder (publishing again over the same bundle
    # would keep every unchanged page, which the incremental run measures)
    record(
        "publish",
        [
            measure("publish", {**paths, "out": work / f"publish{i}" / "out"}, period)
            for i in range(args.repeat)
        ],
    )

    samples = []
    for i in range(args.repeat):
        run_paths = {**fresh(work, f"run{i}", inbox_master), "project": project}
        samples.append(measure("run", run_paths, period))
    record("full_run", samples)

    # incremental: one unit's new submission on top of the full warehouse
    samples = []
    for i in range(args.repeat):
        write_one_submission(scale, run_paths["inbox"], unit=i, period=period)
        samples.append(measure("run", run_paths, period))
    record("incremental_run", samples)

    # a run with nothing new: what every `dti run` process pays whatever it brings
    record("idle_run", [measure("run", run_paths, period) for _ in range(args.repeat)])

    floor = figures["floor_sql"]["min_s"]
    ratios = {
        "dbt_build_over_floor": round(figures["dbt_build"]["min_s"] / floor, 2),
        "ingest_over_floor": round(figures["ingest"]["min_s"] / floor, 2),
        "validate_over_floor": round(figures["validate_all"]["min_s"] / floor, 2),
        "publish_over_floor": round(figures["publish"]["min_s"] / floor, 2),
        "full_run_over_floor": round(figures["full_run"]["min_s"] / floor, 2),
        "validate_over_dbt_build": round(
            figures["validate_all"]["min_s"] / figures["dbt_build"]["min_s"], 2
        ),
        "incremental_over_full_run": round(
            figures["incremental_run"]["min_s"] / figures["full_run"]["min_s"], 3
        ),
        "idle_over_full_run": round(figures["idle_run"]["min_s"] / figures["full_run"]["min_s"], 3),
        # what one submission adds to a run, beyond the cost of a run with nothing new
        "incremental_minus_idle_over_full_run": round(
            (figures["incremental_run"]["min_s"] - figures["idle_run"]["min_s"])
            / figures["full_run"]["min_s"],
            3,
        ),
    }
    targets = {
        "dbt build ≤ 5× floor": ratios["dbt_build_over_floor"] <= 5,
        "ingest ≥ 500,000 answers/s": figures["ingest"]["answers_per_s"] >= 500_000,
        "validation ≤ dbt build": ratios["validate_over_dbt_build"] <= 1,
        "incremental ≤ 10% of full run": ratios["incremental_over_full_run"] <= 0.10,
        "full run peak ≤ 2 GB": figures["full_run"]["peak_rss_mib"] <= 2048,
    }
    result = {
        "scale": {**asdict(scale), "answers": scale.answers, "files": len(files)},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "figures": figures,
        "ratios": ratios,
        "targets_met": targets,
    }
    # other benchmarks' figures (the deadline rush) stay beside these
    merge_results(args.results, result)
    table = render_table(result)
    print("\n" + table)
    update_report(table, args.report)
    print(f"\nwrote {args.results} and the table in {args.report}")
    return 0


def render_table(result: dict) -> str:
    f, r, t = result["figures"], result["ratios"], result["targets_met"]
    floor = f["floor_sql"]["min_s"]
    lines = [
        f"Scale: {result['scale']['units']:,} units × {result['scale']['indicators']} indicators × "
        f"{len(result['scale']['periods'])} periods = {result['scale']['answers']:,} answers in "
        f"{result['scale']['files']} CSV files; {result['machine']['cpus']} cores.",
        "",
        "| stage | min (s) | median (s) | × floor | peak memory (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in (
        "floor_sql",
        "ingest",
        "dbt_build",
        "validate_all",
        "publish",
        "full_run",
        "incremental_run",
        "idle_run",
    ):
        s = f[name]
        lines.append(
            f"| {name} | {s['min_s']:.2f} | {s['median_s']:.2f} | {s['min_s'] / floor:.2f} | {s['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        f"Ingest: {f['ingest']['answers_per_s']:,} answers/s. Validation / dbt build: "
        f"{r['validate_over_dbt_build']}. Incremental / full run: {r['incremental_over_full_run']} "
        f"(a run with nothing new: {r['idle_over_full_run']}; what one submission adds: "
        f"{r['incremental_minus_idle_over_full_run']}).",
        "",
        *step_table(f),
        "",
        "| target | met |",
        "|---|---|",
        *[f"| {name} | {'yes' if ok else 'no'} |" for name, ok in t.items()],
    ]
    return "\n".join(lines)


def step_table(figures: dict) -> list[str]:
    """Seconds of each step of the fastest full, incremental and idle run, side by side."""
    runs = ("full_run", "incremental_run", "idle_run")
    steps = figures["full_run"].get("steps", {})
    lines = [
        "| step of `dti run` (s) | full | incremental | nothing new |",
        "|---|---:|---:|---:|",
    ]
    for step in steps:
        cells = [f"{figures[name].get('steps', {}).get(step, float('nan')):.2f}" for name in runs]
        lines.append(f"| {step} | {' | '.join(cells)} |")
    return lines


def update_report(table: str, report: Path = REPORT) -> None:
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = (
        report.read_text(encoding="utf-8")
        if report.exists()
        else f"# Benchmarks\n\n{start}\n{end}\n"
    )
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    report.write_text(f"{head}{start}\n{table}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
