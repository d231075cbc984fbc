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
# the whole runs measured, this tree's and (with --before) the old revision's
RUNS = (
    "full_run",
    "full_run_before",
    "incremental_run",
    "incremental_run_before",
    "incremental_run_preloaded",
    "idle_run",
    "idle_run_before",
)
REPORT = PROJECT_ROOT / "BENCHMARKS.md"


def measure(
    stage: str, paths: dict[str, Path], period: int, *extra: str, code: Path = PROJECT_ROOT
) -> dict:
    """One stage in a child process: wall seconds (inside the child) and peak RSS in MiB.

    ``code``: the source tree the child runs (``python -m`` puts it first on the path), this
    one or the ``--before`` revision's."""
    cmd = [sys.executable, "-m", "bench.stage", stage, "--period", str(period)]
    for name, path in paths.items():
        cmd += [f"--{name}", str(path)]
    cmd += list(extra)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=code)
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


def checkout(revision: str, folder: Path) -> Path:
    """The source tree of ``revision`` (``git archive``), to run the same stages side by side."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", revision],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


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
    parser.add_argument(
        "--before",
        default=os.environ.get("BENCH_BEFORE") or None,
        help="a git revision whose `dti run` is measured side by side with this tree's "
        "(full, one unit's revision, nothing new), alternating, on copies of the same inbox",
    )
    args = parser.parse_args(argv)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
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

    # whole `dti run`s: this tree's and, with --before, the old revision's, alternating so that
    # the machine's load falls on both alike
    before = checkout(args.before, work / "before_src") if args.before else None
    codes = {"": PROJECT_ROOT, **({"_before": before} if before else {})}
    samples: dict[str, list[dict]] = {}

    def run(name: str, paths: dict[str, Path], code: Path, *extra: str) -> None:
        samples.setdefault(name, []).append(measure("run", paths, period, *extra, code=code))

    run_paths: dict[str, dict[str, Path]] = {}
    for i in range(args.repeat):
        for suffix, code in codes.items():
            run_paths[suffix] = {
                **fresh(work, f"run{suffix}{i}", inbox_master),
                "project": project,
            }
            run(f"full_run{suffix}", run_paths[suffix], code)
    # one unit's new submission on top of the full warehouse, the same in both
    for i in range(args.repeat):
        for suffix, code in codes.items():
            write_one_submission(scale, run_paths[suffix]["inbox"], unit=i, period=period)
            run(f"incremental_run{suffix}", run_paths[suffix], code)
    # the same in a worker that has dbt and GX loaded already (Airflow's preloading forkserver)
    for i in range(args.repeat):
        write_one_submission(scale, run_paths[""]["inbox"], unit=args.repeat + i, period=period)
        run("incremental_run_preloaded", run_paths[""], PROJECT_ROOT, "--preload")
    # a run with nothing new: what every `dti run` process pays whatever it brings
    for _ in range(args.repeat):
        for suffix, code in codes.items():
            run(f"idle_run{suffix}", run_paths[suffix], code)
    for name in RUNS:
        if name in samples:
            record(name, samples[name])

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
        "incremental_preloaded_over_full_run": round(
            figures["incremental_run_preloaded"]["min_s"] / figures["full_run"]["min_s"], 3
        ),
        # what one submission adds to a run, beyond the cost of a run with nothing new
        "incremental_minus_idle_over_full_run": round(
            (figures["incremental_run"]["min_s"] - figures["idle_run"]["min_s"])
            / figures["full_run"]["min_s"],
            3,
        ),
    }
    if before:
        for name in ("full_run", "incremental_run", "idle_run"):
            ratios[f"{name}_after_over_before"] = round(
                figures[name]["min_s"] / figures[f"{name}_before"]["min_s"], 3
            )
        ratios["incremental_over_full_run_before"] = round(
            figures["incremental_run_before"]["min_s"] / figures["full_run_before"]["min_s"], 3
        )
    peak = max(f["peak_rss_mib"] for name, f in figures.items() if not name.endswith("_before"))
    targets = {
        "dbt build ≤ 5× floor": ratios["dbt_build_over_floor"] <= 5,
        "ingest ≥ 500,000 answers/s": figures["ingest"]["answers_per_s"] >= 500_000,
        "validation ≤ dbt build": ratios["validate_over_dbt_build"] <= 1,
        "incremental ≤ 10% of full run": ratios["incremental_over_full_run"] <= 0.10,
        "incremental, preloaded worker ≤ 10% of full run": (
            ratios["incremental_preloaded_over_full_run"] <= 0.10
        ),
        "full run ≤ 5× floor": ratios["full_run_over_floor"] <= 5,
        "peak memory of any step ≤ 2 GB": peak <= 2048,
    }
    result = {
        "scale": {**asdict(scale), "answers": scale.answers, "files": len(files)},
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            # other work on the machine while measuring: 1-, 5- and 15-minute load averages
            "load_at_start": load_at_start,
            "load_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "before": args.before,
        "peak_rss_mib_any_step": peak,
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
    machine = result["machine"]
    lines = [
        f"Scale: {result['scale']['units']:,} units × {result['scale']['indicators']} indicators × "
        f"{len(result['scale']['periods'])} periods = {result['scale']['answers']:,} answers in "
        f"{result['scale']['files']} CSV files; {machine['cpus']} cores; load average "
        f"{' / '.join(map(str, machine['load_at_start']))} at the start, "
        f"{' / '.join(map(str, machine['load_at_end']))} at the end (1, 5, 15 min).",
        "",
        "| stage | min (s) | median (s) | × floor | peak memory (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("floor_sql", "ingest", "dbt_build", "validate_all", "publish", *RUNS):
        if name not in f:
            continue
        s = f[name]
        lines.append(
            f"| {name} | {s['min_s']:.2f} | {s['median_s']:.2f} | {s['min_s'] / floor:.2f} | {s['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        f"Ingest: {f['ingest']['answers_per_s']:,} answers/s. Validation / dbt build: "
        f"{r['validate_over_dbt_build']}. Full run / floor: {r['full_run_over_floor']}. "
        f"Incremental / full run: {r['incremental_over_full_run']} (in a worker with dbt and GX "
        f"preloaded: {r['incremental_preloaded_over_full_run']}; a run with nothing new: "
        f"{r['idle_over_full_run']}; what one submission adds: "
        f"{r['incremental_minus_idle_over_full_run']}). Peak memory of any step: "
        f"{result['peak_rss_mib_any_step']:.0f} MiB.",
    ]
    if result.get("before"):
        lines += [
            "",
            f"Side by side with `{result['before']}` (before), this tree after: full run "
            f"{r['full_run_after_over_before']}×, one unit's revision "
            f"{r['incremental_run_after_over_before']}×, nothing new "
            f"{r['idle_run_after_over_before']}× the time before; incremental / full run "
            f"before: {r['incremental_over_full_run_before']}.",
        ]
    lines += [
        "",
        *step_table(f),
        "",
        "| target | met |",
        "|---|---|",
        *[f"| {name} | {'yes' if ok else 'no'} |" for name, ok in t.items()],
    ]
    return "\n".join(lines)


STEP_COLUMNS = {
    "full_run_before": "full, before",
    "full_run": "full",
    "incremental_run_before": "one unit, before",
    "incremental_run": "one unit",
    "incremental_run_preloaded": "one unit, preloaded",
    "idle_run_before": "nothing new, before",
    "idle_run": "nothing new",
}


def step_table(figures: dict) -> list[str]:
    """Seconds of each step of the fastest of each kind of run, side by side (a step a run
    did not report: –). dbt and GX are imported inside the first step that needs them; the
    revision before timed them as a step of their own (imports)."""
    runs = [name for name in STEP_COLUMNS if name in figures]
    steps: list[str] = []
    for name in runs:
        steps += [s for s in figures[name].get("steps", {}) if s not in steps]
    lines = [
        f"| step of `dti run` (s) | {' | '.join(STEP_COLUMNS[name] for name in runs)} |",
        f"|---|{'---:|' * len(runs)}",
    ]

    def cell(name: str, step: str) -> str:
        value = figures[name].get("steps", {}).get(step)
        return "–" if value is None else f"{value:.2f}"

    for step in steps:
        lines.append(f"| {step} | {' | '.join(cell(name, step) for name in runs)} |")
    wholes = " | ".join(f"{figures[name]['min_s']:.2f}" for name in runs)
    lines.append(f"| **whole run** | {wholes} |")
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
