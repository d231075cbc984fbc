"""`make bench` end to end at a toy scale: every figure the benchmark promises is written.

No assertion here is about speed; the figures are checked for presence and consistency only.
"""

from __future__ import annotations

import json

import pytest

from bench import run as bench_run

STAGES = ("floor_sql", "ingest", "dbt_build", "validate_all", "publish", "full_run")
RUN_STEPS = (
    "ingest", "seed", "validate_framework", "validate_submissions", "build",
    "validate_counted_answers", "validate_scores", "publish", "data_docs",
)  # fmt: skip


@pytest.mark.slow  # every stage of make bench in its own process: minutes
def test_bench_writes_every_figure_and_the_table(tmp_path, capsys) -> None:
    results, report = tmp_path / "results.json", tmp_path / "BENCHMARKS.md"
    report.write_text("# Benchmarks\n\nprose kept\n<!-- bench:start -->\nold\n<!-- bench:end -->\n")
    argv = ["--units", "100", "--repeat", "1", "--work", str(tmp_path / "work")]
    assert bench_run.main([*argv, "--results", str(results), "--report", str(report)]) == 0

    result = json.loads(results.read_text(encoding="utf-8"))
    assert result["scale"]["answers"] == 100 * 50 * 5
    figures = result["figures"]
    for name in (*STAGES, "incremental_run", "incremental_run_preloaded", "idle_run"):
        f = figures[name]
        assert 0 < f["min_s"] <= f["median_s"], name
        assert f["peak_rss_mib"] > 0 and f["runs"] == 1, name
    assert figures["ingest"]["rows_loaded"] == 100 * 50 * 5
    assert figures["floor_sql"]["units"] == 100 * 5
    for name in ("full_run", "incremental_run", "incremental_run_preloaded", "idle_run"):
        assert tuple(figures[name]["steps"]) == RUN_STEPS, name
    assert figures["incremental_run_preloaded"]["preload_s"] > 0
    assert set(result["ratios"]) >= {
        "dbt_build_over_floor", "validate_over_dbt_build", "incremental_over_full_run",
        "idle_over_full_run", "incremental_minus_idle_over_full_run", "full_run_over_floor",
        "incremental_preloaded_over_full_run",
    }  # fmt: skip
    assert len(result["targets_met"]) == 7
    assert result["peak_rss_mib_any_step"] >= figures["full_run"]["peak_rss_mib"]
    assert len(result["machine"]["load_at_start"]) == 3

    text = report.read_text(encoding="utf-8")
    assert "prose kept" in text and "\nold\n" not in text
    table = text.split("<!-- bench:start -->")[1].split("<!-- bench:end -->")[0]
    for name in (*STAGES, "incremental_run", "idle_run", "validate_counted_answers"):
        assert f"| {name} |" in table
    assert table.strip() in capsys.readouterr().out
