"""Each checkpoint broken on purpose: the gate stops publication, says why, and the trail keeps it."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from dti.settings import Settings
from dti.vocabulary import CHECKPOINTS
from expectations.audit import validation_runs
from expectations.data_docs import external_urls
from expectations.gate import GateFailed, ValidationRun, validate_checkpoint
from pipeline import cli, jobs
from pipeline import steps as pipeline
from tests.expectations.gate_warehouse import PERIOD, execute, query


def _fails(settings: Settings, checkpoint: str) -> GateFailed:
    with pytest.raises(GateFailed) as caught:
        validate_checkpoint(settings, checkpoint, PERIOD)
    return caught.value


def _failed_checks(error: GateFailed) -> set[str]:
    return {
        name
        for name, outcome in error.run.statistics["expectations"].items()
        if not outcome["success"] and outcome["severity"] == "critical"
    }


def test_coherent_warehouse_passes_every_checkpoint_with_warnings_recorded(
    warehouse: Settings,
) -> None:
    runs = [validate_checkpoint(warehouse, checkpoint, PERIOD) for checkpoint in CHECKPOINTS]

    assert [run.suite for run in runs] == ["framework", "submissions", "counted_answers", "scores"]
    assert all(run.success and not run.critical_failures for run in runs)
    raw, marts = runs[1], runs[3]
    assert any("self_answers_on_time" in w and "SO-SNV" in w for w in raw.warnings)
    assert any("every_unit_submitted" in w for w in marts.warnings)
    for run in runs:
        assert run.data_fingerprint.startswith("sha256:")
        assert Path(run.validation_result_path).is_file()
        assert Path(run.report_path).is_file()
        manifest = run.to_manifest()
        assert json.loads(json.dumps(manifest)) == manifest
        assert manifest["run_id"] == run.run_id and manifest["success"] is True
    recorded = validation_runs(warehouse, PERIOD)
    assert [r["run_id"] for r in recorded] == [run.run_id for run in runs]
    assert recorded[1]["warnings"] == raw.warnings
    # Data Docs render offline: the pages load the vendored scripts, not the CDN's
    index = Path(runs[-1].data_docs_index)
    html = index.read_text(encoding="utf-8")
    assert 'src="static/vendor/jquery.min.js"' in html and "code.jquery.com" not in html
    assert (index.parent / "static" / "vendor" / "bootstrap-table.min.js").is_file()
    assert external_urls(index.parent) == {}  # no CDN, no S3 logo, no newsletter, no GX link
    assert "://" not in "".join(p.read_text(encoding="utf-8") for p in index.parent.rglob("*.html"))
    # Our verdict on top: GX says "Failed" for a run with failed warnings, we do not.
    verdicts = re.findall(r"<tr data-verdict='([a-z ]+)'><td>2023</td><td><a[^>]*>(\w+)", html)
    assert verdicts == [
        ("passed", "framework"),
        ("passed with warnings", "submissions"),
        ("passed", "counted_answers"),
        ("passed with warnings", "scores"),
    ]
    assert html.index('id="dti-verdict"') < html.index("<nav")
    page = Path(raw.report_path).read_text(encoding="utf-8")
    assert 'data-verdict="passed with warnings"' in page
    assert "self_answers_on_time" in page[: page.index("<nav")]


def test_overlapping_levels_fail_the_framework_suite(warehouse: Settings) -> None:
    execute(
        warehouse,
        "update registry.levels set from_pct = 85 "
        "where block = 'so_nganh' and level_code = 'hinh_thanh'",
    )
    error = _fails(warehouse, "framework")

    assert _failed_checks(error) == {"levels_ordered"}
    message = str(error)
    assert "suite 'framework'" in message
    assert "expectation 'levels_ordered'" in message
    assert '"block": "so_nganh"' in message and '"level_code": "nang_cao"' in message
    assert "threshold not above the level before it (overlapping levels)" in message
    assert "nothing was published" in message


def test_points_that_do_not_add_up_fail_the_framework_suite(warehouse: Settings) -> None:
    execute(
        warehouse,
        "update registry.indicators set max_points = max_points + 1 "
        "where framework_version = 'hcm-2023' and block = 'so_nganh' and indicator_code = 'NTS.1'",
    )
    error = _fails(warehouse, "framework")

    assert _failed_checks(error) == {"indicators_add_up_to_pillar"}
    sample = error.run.failing_samples["indicators_add_up_to_pillar"]
    assert sample == [
        {
            "framework_version": "hcm-2023",
            "block": "so_nganh",
            "pillar_code": "NTS",
            "pillar_max": "30.00",
            "indicator_points": "31.00",
        }
    ]


def test_malformed_tiers_and_unknown_method_fail_the_framework_suite(warehouse: Settings) -> None:
    execute(
        warehouse,
        "update registry.indicators set tiers = '10:3.5|5:2|20:5' "
        "where block = 'so_nganh' and indicator_code = 'NTS.3'",
    )
    execute(
        warehouse,
        "update registry.indicators set method = 'fuzzy' "
        "where block = 'quan_huyen' and indicator_code = 'NTS.1'",
    )
    error = _fails(warehouse, "framework")
    assert _failed_checks(error) == {"tiers_well_formed", "indicator_methods_known"}


def test_codes_that_spell_a_path_or_differ_by_case_fail_the_framework_suite(
    warehouse: Settings,
) -> None:
    """The framework checkpoint holds the code grammar too (a registry loaded by hand, or by a
    dbt seed that skipped `dti registry check`)."""
    execute(
        warehouse,
        "insert into registry.units (unit_code, unit_name, block, active_from, active_to) "
        "select 'so-hepza', unit_name, block, active_from, active_to from registry.units "
        "where unit_code = 'SO-HEPZA'",
    )
    execute(warehouse, "update registry.pillars set block = 'so/../../x' where pillar_code = 'NTS'")
    error = _fails(warehouse, "framework")
    assert {"codes_follow_grammar", "codes_unique_ignoring_case"} <= _failed_checks(error)
    grammar = error.run.failing_samples["codes_follow_grammar"]
    assert {"kind": "block", "place": "pillars.block", "code": "so/../../x"} in grammar
    [case] = error.run.failing_samples["codes_unique_ignoring_case"]
    assert case["kind"] == "unit" and case["code_ignoring_case"] == "so-hepza"


def test_a_failed_framework_gate_publishes_nothing(
    warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dti run` stops at the framework gate: no build, no bundle, exit code 1."""
    steps: list[str] = []
    monkeypatch.setattr(pipeline, "ingest_sources", lambda s, *a, **k: steps.append("ingest"))
    monkeypatch.setattr(pipeline, "seed_registry", lambda s: steps.append("seed"))
    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: steps.append("build"))
    monkeypatch.setattr(pipeline, "publish_bundle", lambda *a, **k: steps.append("publish"))
    execute(warehouse, "update registry.levels set from_pct = 120 where level_code = 'nang_cao'")

    with pytest.raises(GateFailed, match="levels_ordered"):
        jobs.run(warehouse, [PERIOD])
    assert steps == ["ingest", "seed"]
    assert not (warehouse.out / str(PERIOD)).exists()

    recorded = validation_runs(warehouse, PERIOD)
    assert [(r["suite"], r["success"]) for r in recorded] == [("framework", False)]
    assert recorded[0]["failing_samples"]["levels_ordered"]


def test_dti_run_exits_non_zero_and_names_the_failure(
    warehouse: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    published: list[int] = []
    monkeypatch.setattr(pipeline, "ingest_sources", lambda s, *a, **k: None)
    monkeypatch.setattr(pipeline, "seed_registry", lambda s: None)
    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "publish_bundle", lambda s, p, **k: published.append(p))
    execute(
        warehouse,
        "update marts.fct_unit_scores set level = 'nang_cao' where unit_code = 'QH-NB'",
    )
    args = ["run", "--period", str(PERIOD), "--warehouse", str(warehouse.warehouse)]
    args += ["--inbox", str(warehouse.inbox), "--out", str(warehouse.out)]

    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "GateFailed" in err and "suite 'scores'" in err
    assert "expectation 'level_matches_thresholds'" in err and "QH-NB" in err
    assert published == []


def test_a_corrupted_staging_table_stops_the_gate(warehouse: Settings) -> None:
    # a duplicated current answer, and one that points at an older revision
    execute(
        warehouse,
        "insert into intermediate.int_answers_latest select * from "
        "intermediate.int_answers_latest where unit_code = 'SO-SKHCN' limit 1",
    )
    older = query(
        warehouse,
        "select indicator_code, min(submission_id) from raw.submission_rows where unit_code = "
        "'SO-HEPZA' and stage = 'self' group by indicator_code having count(*) > 1",
    )
    assert older, "the fixture has a revised answer"
    execute(
        warehouse,
        "update intermediate.int_answers_latest set submission_id = ? "
        "where unit_code = 'SO-HEPZA' and indicator_code = ? and stage = 'self'",
        [older[0][1], older[0][0]],
    )
    error = _fails(warehouse, "counted_answers")

    assert _failed_checks(error) == {"one_current_answer", "current_answer_is_latest"}
    assert "suite 'counted_answers'" in str(error) and "SO-HEPZA" in str(error)
    (recorded,) = validation_runs(warehouse, PERIOD)
    assert (recorded["run_id"], recorded["suite"], recorded["success"]) == (
        error.run.run_id,
        "counted_answers",
        False,
    )
    assert "SO-HEPZA" in json.dumps(recorded["failing_samples"]["current_answer_is_latest"])


def _revise_after(warehouse: Settings, loaded: str) -> None:
    """A later revision of one of SO-HEPZA's self answers, loaded at ``loaded``."""
    execute(
        warehouse,
        "insert into raw.submission_rows select * replace ("
        "  submitted_at + interval 1 minute as submitted_at, 'REV-' || submission_id as submission_id,"
        f"  {loaded} as loaded_at)"
        " from raw.submission_rows where unit_code = 'SO-HEPZA' and stage = 'self'"
        " order by submitted_at desc limit 1",
    )


def test_answers_loaded_after_the_build_are_the_next_builds(warehouse: Settings) -> None:
    # an ingest that ran between dbt's build and this gate: its revision is not in the models
    # yet, which is no fault of the build
    _revise_after(warehouse, "now()")
    assert validate_checkpoint(warehouse, "counted_answers", PERIOD).success


def test_an_answer_the_build_saw_but_left_out_still_fails(warehouse: Settings) -> None:
    # the same revision, loaded before the build started: the models should count it
    _revise_after(warehouse, "loaded_at")
    error = _fails(warehouse, "counted_answers")
    assert _failed_checks(error) == {"current_answer_is_latest"}


def test_points_beyond_the_maximum_fail_staging(warehouse: Settings) -> None:
    execute(
        warehouse,
        "update intermediate.int_indicator_points set final_points = max_points + 1 "
        "where unit_code = 'QH-PN' and indicator_code = 'NTS.1'",
    )
    error = _fails(warehouse, "counted_answers")
    assert _failed_checks(error) == {"points_within_max"}


def test_a_mart_whose_level_disagrees_with_its_percent_stops_publication(
    warehouse: Settings,
) -> None:
    unit, level, percent = query(
        warehouse,
        "select unit_code, level, percent from marts.fct_unit_scores "
        "where status = 'scored' and level <> 'nang_cao' order by unit_code limit 1",
    )[0]
    execute(
        warehouse,
        "update marts.fct_unit_scores set level = 'nang_cao', level_name = 'Nâng cao' "
        "where unit_code = ?",
        [unit],
    )
    error = _fails(warehouse, "scores")

    assert _failed_checks(error) == {"level_matches_thresholds"}
    sample = error.run.failing_samples["level_matches_thresholds"]
    assert sample[0]["unit_code"] == unit
    assert sample[0]["level"] == "nang_cao" and sample[0]["expected_level"] == level
    assert str(percent) in str(error)
    (recorded,) = validation_runs(warehouse, PERIOD)
    assert recorded["suite"] == "scores" and recorded["success"] is False
    assert recorded["critical_failures"] == error.run.critical_failures
    assert recorded["data_fingerprint"] == error.run.data_fingerprint


def test_broken_marts_arithmetic_is_named_check_by_check(warehouse: Settings) -> None:
    execute(warehouse, "delete from marts.fct_unit_scores where unit_code = 'SO-SDL'")
    execute(
        warehouse,
        "update marts.fct_unit_scores set total_score = total_score + 1, "
        "self_score = self_score + 1 where unit_code = 'SO-SATTP'",
    )
    execute(
        warehouse,
        "update marts.fct_unit_scores set rank = rank + 1 where unit_code = 'QH-Q1'",
    )
    error = _fails(warehouse, "scores")
    assert {"active_units_once", "total_is_sum_of_pillars", "rank_within_group"} <= (
        _failed_checks(error)
    )
    assert "SO-SDL" in json.dumps(error.run.failing_samples["active_units_once"])


def test_final_score_beyond_the_appraisals_reach_fails(warehouse: Settings) -> None:
    execute(
        warehouse,
        "update marts.fct_indicator_points set final_points = 0 "
        "where unit_code = 'SO-STTTT' and scored_stage = 'self' and self_points > 0",
    )
    error = _fails(warehouse, "scores")
    assert "self_final_gap_within_appraisal" in _failed_checks(error)


def test_unreadable_raw_rows_fail_the_raw_suite(warehouse: Settings) -> None:
    execute(
        warehouse,
        "insert into raw.submission_rows select period, 'SO-KHONG-CO', indicator_code, value, "
        "evidence_ref, stage, submitted_at, submission_id || '-x', source, batch_sha256, "
        "source_row, loaded_at, source_updated_at from raw.submission_rows limit 1",
    )
    execute(
        warehouse,
        "insert into raw.submission_rows select period, unit_code, indicator_code, 'nhiều', "
        "evidence_ref, 'draft', submitted_at, submission_id, source, batch_sha256, source_row, "
        "loaded_at, source_updated_at from raw.submission_rows where unit_code = 'SO-SNV' and "
        "indicator_code = 'HTS.1' and stage = 'self'",
    )
    error = _fails(warehouse, "submissions")
    assert _failed_checks(error) == {
        "unit_known_and_active",
        "indicator_known",
        "stage_allowed",
        "value_readable",
        "answer_version_unique",
    }


def test_a_check_that_cannot_run_counts_as_failed(warehouse: Settings) -> None:
    execute(warehouse, "drop table intermediate.int_indicator_points")
    error = _fails(warehouse, "counted_answers")
    assert _failed_checks(error) == {"points_within_max"}
    assert "could not run" in str(error) and "int_indicator_points" in str(error)


def test_fingerprint_follows_the_data(warehouse: Settings) -> None:
    first = validate_checkpoint(warehouse, "scores", PERIOD)
    again = validate_checkpoint(warehouse, "scores", PERIOD)
    execute(warehouse, "update marts.fct_unit_scores set unit_name = unit_name || ' ' ")
    changed = validate_checkpoint(warehouse, "scores", PERIOD)
    assert first.data_fingerprint == again.data_fingerprint != changed.data_fingerprint
    assert first.run_id != again.run_id


def test_validation_run_is_the_documented_contract() -> None:
    run = ValidationRun(
        run_id="r", suite="scores", checkpoint="scores", period=2023, success=False,
        critical_failures=["expectation 'x' — …"], warnings=[], statistics={"a": 1},
        data_fingerprint="sha256:0", report_path="/tmp/r.html",
    )  # fmt: skip
    manifest = run.to_manifest()
    for key in (
        "run_id",
        "suite",
        "checkpoint",
        "period",
        "success",
        "critical_failures",
        "warnings",
        "statistics",
        "data_fingerprint",
        "report_path",
    ):
        assert key in manifest
    assert str(GateFailed(run)).startswith("validation gate failed: suite 'scores'")


def test_a_period_without_answers_fails_the_raw_gate(warehouse: Settings) -> None:
    with pytest.raises(GateFailed) as caught:
        validate_checkpoint(warehouse, "submissions", PERIOD + 1)
    assert _failed_checks(caught.value) == {"period_has_answers"}
    assert (
        "expectation 'period_has_answers' — The period has loaded submission rows. — observed 0"
        in (str(caught.value))
    )


ANOMALIES = {
    "appraisal_gap_outlier",
    "identical_answer_vectors",
    "pillar_moved_since_previous_period",
}


def _warned(run: ValidationRun) -> set[str]:
    return {
        name
        for name, outcome in run.statistics["expectations"].items()
        if not outcome["success"] and outcome["severity"] == "warning"
    }


def test_anomalies_are_warnings_whose_thresholds_come_from_settings(warehouse: Settings) -> None:
    quiet = validate_checkpoint(warehouse, "scores", PERIOD)
    assert _warned(quiet) & ANOMALIES == set(), "the coherent fixture has no anomaly"

    # two departments send the same answer sheet; every pillar was 25 points lower a year ago
    execute(
        warehouse,
        "update marts.fct_indicator_points set self_value = 'Có' "
        "where unit_code in ('SO-SNV', 'SO-SYT') and indicator_code <> 'HDCDS.6'",
    )
    execute(
        warehouse,
        "insert into marts.fct_unit_scores select * replace (period - 1 as period) "
        f"from marts.fct_unit_scores where period = {PERIOD}",
    )
    execute(
        warehouse,
        "insert into marts.fct_pillar_scores select * replace "
        "(period - 1 as period, score - 25 as score) "
        f"from marts.fct_pillar_scores where period = {PERIOD} and unit_code = 'SO-SNV'",
    )
    still_quiet = {"identical_answer_vectors", "pillar_moved_since_previous_period"}
    run = validate_checkpoint(warehouse, "scores", PERIOD)
    assert run.success and not run.critical_failures
    assert _warned(run) & ANOMALIES == still_quiet
    assert any("SO-SNV" in w and "SO-SYT" in w for w in run.warnings if "identical" in w)

    # stricter thresholds through the settings: any appraisal gap, a 30-point move only
    strict = replace(warehouse, anomaly_appraisal_gap_points=1, anomaly_pillar_move_points=30)
    run = validate_checkpoint(strict, "scores", PERIOD)
    assert run.success
    assert _warned(run) & ANOMALIES == {"appraisal_gap_outlier", "identical_answer_vectors"}


def test_a_counted_answer_without_required_evidence_is_a_warning(warehouse: Settings) -> None:
    # NTS.2 (the year's plan) requires evidence in indicators.csv, NTS.1 does not
    required = query(
        warehouse,
        "select indicator_code, evidence_required from marts.fct_indicator_points "
        "where unit_code = 'SO-SKHCN' and indicator_code in ('NTS.1', 'NTS.2') "
        "order by indicator_code",
    )
    assert required == [("NTS.1", False), ("NTS.2", True)]
    present = validate_checkpoint(warehouse, "scores", PERIOD)
    assert "required_evidence_missing" not in _warned(present), "every answer cites evidence"

    execute(
        warehouse,
        "update marts.fct_indicator_points set scored_evidence_ref = null "
        "where unit_code = 'SO-SKHCN' and indicator_code in ('NTS.1', 'NTS.2')",
    )
    missing = validate_checkpoint(warehouse, "scores", PERIOD)
    assert missing.success and not missing.critical_failures, "a warning never blocks"
    assert "required_evidence_missing" in _warned(missing)
    (warning,) = [w for w in missing.warnings if "required_evidence_missing" in w]
    assert "SO-SKHCN" in warning and "NTS.2" in warning and "NTS.1" not in warning
