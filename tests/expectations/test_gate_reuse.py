"""What a run validates again and what it may take from its last run: the gate still blocks.

A checkpoint whose data and rules did not change since a run that *passed* keeps that verdict
without running GX; a run that blocked is validated again, so a critical failure on unchanged
data blocks every time. The Data Docs are built once per run and keep a bounded history.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dti.settings import Settings
from expectations import gate
from expectations.audit import validation_runs
from expectations.gate import GateFailed, validate_checkpoint, validation_session
from tests.expectations.gate_warehouse import PERIOD, execute


@pytest.fixture
def gx_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The checkpoints GX really validated (the gate's own spy on its GX call)."""
    ran: list[str] = []
    real = gate._run_checkpoint

    def counting(session, checkpoint, period, run_id):
        ran.append(checkpoint)
        return real(session, checkpoint, period, run_id)

    monkeypatch.setattr(gate, "_run_checkpoint", counting)
    return ran


def test_unchanged_data_that_passed_keeps_its_verdict_without_gx(
    warehouse: Settings, gx_runs: list[str]
) -> None:
    first = validate_checkpoint(warehouse, "submissions", PERIOD)
    again = validate_checkpoint(warehouse, "submissions", PERIOD)

    assert gx_runs == ["submissions"]
    assert again.success and again.run_id != first.run_id
    assert again.statistics["reused_from"] == first.run_id
    assert again.warnings == first.warnings and again.warnings  # the late answer, still flagged
    assert again.data_fingerprint == first.data_fingerprint
    assert again.validation_result_path == first.validation_result_path
    recorded = validation_runs(warehouse, PERIOD)
    assert [r["run_id"] for r in recorded] == [first.run_id, again.run_id]


def test_a_critical_failure_on_unchanged_data_still_blocks(
    warehouse: Settings, gx_runs: list[str]
) -> None:
    execute(
        warehouse,
        "update registry.levels set from_pct = 85 "
        "where block = 'so_nganh' and level_code = 'hinh_thanh'",
    )
    for _ in range(2):
        with pytest.raises(GateFailed) as caught:
            validate_checkpoint(warehouse, "framework", PERIOD)
        assert "levels_ordered" in str(caught.value)
    assert gx_runs == ["framework", "framework"], "a blocked run is validated again"
    assert [r["success"] for r in validation_runs(warehouse, PERIOD)] == [False, False]


def test_data_broken_after_a_pass_is_validated_again_and_blocks(
    warehouse: Settings, gx_runs: list[str]
) -> None:
    validate_checkpoint(warehouse, "framework", PERIOD)
    execute(
        warehouse,
        "update registry.levels set from_pct = 85 "
        "where block = 'so_nganh' and level_code = 'hinh_thanh'",
    )
    with pytest.raises(GateFailed, match="levels_ordered"):
        validate_checkpoint(warehouse, "framework", PERIOD)
    assert gx_runs == ["framework", "framework"]


def test_a_table_only_a_rule_reads_is_part_of_the_data(
    warehouse: Settings, gx_runs: list[str]
) -> None:
    # the batch (raw rows of the period) is unchanged; the ledger a rule joins is not
    validate_checkpoint(warehouse, "submissions", PERIOD)
    execute(warehouse, "update raw.load_ledger set outcome = 'refused'")
    with pytest.raises(GateFailed, match="batch_in_ledger"):
        validate_checkpoint(warehouse, "submissions", PERIOD)
    assert gx_runs == ["submissions", "submissions"]


def test_changed_thresholds_are_changed_rules(warehouse: Settings, gx_runs: list[str]) -> None:
    validate_checkpoint(warehouse, "scores", PERIOD)
    stricter = replace(warehouse, anomaly_appraisal_gap_points=1)
    validate_checkpoint(stricter, "scores", PERIOD)
    assert gx_runs == ["scores", "scores"]


def test_an_operator_validation_always_runs(warehouse: Settings, gx_runs: list[str]) -> None:
    validate_checkpoint(warehouse, "framework", PERIOD)
    validate_checkpoint(warehouse, "framework", PERIOD, reuse=False)
    assert gx_runs == ["framework", "framework"]


def test_one_session_builds_the_data_docs_once_with_a_bounded_history(
    warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(warehouse, data_docs_keep_runs=2)
    builds: list[int] = []
    real = gate._Session._build_data_docs

    def counting(self):
        builds.append(len(self.results))
        return real(self)

    monkeypatch.setattr(gate._Session, "_build_data_docs", counting)
    runs = []
    with validation_session(settings):
        for _ in range(2):
            runs += [
                validate_checkpoint(settings, c, PERIOD, reuse=False)
                for c in ("framework", "scores")
            ]
        assert builds == [] and not Path(runs[0].report_path).exists()
    assert builds == [4], "one build for the session's four validations"
    for run in runs:
        assert Path(run.report_path).is_file()
    # a third framework run: the oldest framework page goes, its result JSON and audit row stay
    third = validate_checkpoint(settings, "framework", PERIOD, reuse=False)
    assert builds == [4, 1]
    assert not Path(runs[0].report_path).exists()
    assert Path(runs[2].report_path).is_file() and Path(third.report_path).is_file()
    assert Path(runs[0].validation_result_path).is_file()
    assert runs[0].run_id in {r["run_id"] for r in validation_runs(settings, PERIOD)}
    index = Path(third.data_docs_index).read_text(encoding="utf-8")
    assert runs[0].run_id not in index and third.run_id in index
    verdicts = json.loads(
        (Path(third.data_docs_index).parent / "static" / "dti" / "verdicts.json").read_text()
    )
    assert runs[0].run_id not in verdicts["pages"].values()
