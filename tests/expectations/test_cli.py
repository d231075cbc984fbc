"""`dti validate` and `dti audit` as an operator and an auditor use them."""

from __future__ import annotations

import hashlib
import json

import pytest

from dti.settings import Settings
from expectations.gate import GateFailed, validate_checkpoint
from pipeline import cli
from tests.expectations.gate_warehouse import PERIOD, execute


def _write_manifest(settings: Settings, runs: list) -> dict:
    """A bundle's manifest as publish/ writes it: files with sha256 and the gating runs."""
    bundle = settings.out / str(PERIOD)
    bundle.mkdir(parents=True)
    (bundle / "results.json").write_text('{"period": 2023}', encoding="utf-8")
    digest = hashlib.sha256(b'{"period": 2023}').hexdigest()
    manifest = {
        "period": PERIOD,
        "built_at": "2024-03-07T09:00:00Z",
        "framework_version": "hcm-2023",
        "files": [{"path": "results.json", "sha256": digest}],
        "validation_runs": [run.to_manifest() for run in runs],
    }
    (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def test_dti_validate_passes_and_prints_the_run(warehouse: Settings, capsys) -> None:
    args = ["validate", "--checkpoint", "scores", "--period", str(PERIOD)]
    assert cli.main([*args, "--warehouse", str(warehouse.warehouse), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["suite"] == "scores" and printed["success"] is True
    assert printed["statistics"]["failed_critical"] == 0


def test_dti_validate_exits_non_zero_naming_suite_expectation_and_rows(
    warehouse: Settings, capsys
) -> None:
    execute(warehouse, "update registry.pillars set max_points = 35 where pillar_code = 'NTS'")
    args = ["validate", "--checkpoint", "framework", "--period", str(PERIOD)]
    assert cli.main([*args, "--warehouse", str(warehouse.warehouse)]) == 1
    err = capsys.readouterr().err
    assert "suite 'framework'" in err
    assert "expectation 'pillars_add_up_to_scale'" in err
    assert "expectation 'indicators_add_up_to_pillar'" in err
    assert '"pillar_code": "NTS"' in err


def test_dti_audit_prints_inputs_runs_and_checksums(warehouse: Settings, capsys) -> None:
    runs = [validate_checkpoint(warehouse, stage, PERIOD) for stage in ("framework", "submissions")]
    manifest = _write_manifest(warehouse, runs)
    execute(warehouse, "update marts.fct_unit_scores set rank = 7 where unit_code = 'QH-PN'")
    with pytest.raises(GateFailed, match="rank_within_group"):
        validate_checkpoint(warehouse, "scores", PERIOD)  # a later failed run stays in the trail

    paths = ["--warehouse", str(warehouse.warehouse), "--out", str(warehouse.out)]
    assert cli.main(["audit", "--period", str(PERIOD), *paths]) == 0
    text = capsys.readouterr().out
    assert manifest["files"][0]["sha256"] + "  results.json" in text
    assert "framework version: hcm-2023" in text
    assert "gated by 2 validation run(s): all passed" in text
    assert "hcm_2023_export.csv" in text  # the ledger's input with its sha256
    assert f" * {runs[0].started_at}" in text
    assert f"{'scores':<15} FAILED" in text and "CRITICAL expectation 'rank_within_group'" in text

    assert cli.main(["audit", "--period", str(PERIOD), *paths, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["suite"] for r in report["validation_runs"]] == ["framework", "submissions", "scores"]
    assert [r["gated_publication"] for r in report["validation_runs"]] == [True, True, False]
    assert report["validation_runs"][2]["failing_samples"]["rank_within_group"]
    assert len(report["inputs"]) == 1 and len(report["inputs"][0]["batch_sha256"]) == 64
    assert report["publication"]["validation_runs_missing_from_warehouse"] == []


def test_dti_audit_without_a_publication_says_where_it_looked_and_fails(
    warehouse: Settings, capsys
):
    validate_checkpoint(warehouse, "counted_answers", PERIOD)
    paths = ["--warehouse", str(warehouse.warehouse), "--out", str(warehouse.out)]
    assert cli.main(["audit", "--period", str(PERIOD), *paths]) == 1
    printed = capsys.readouterr()
    looked = warehouse.out / str(PERIOD) / "manifest.json"
    assert f"Publication: none (no manifest.json at {looked})" in printed.out
    assert f"{'counted_answers':<15} PASSED  5/5 expectations" in printed.out
    assert printed.err.splitlines() == [
        f"dti audit: không tìm thấy bản công bố nào của kỳ {PERIOD}: không có manifest.json tại "
        f"{looked}. Hãy chỉ thư mục công bố bằng --out (hoặc DTI_OUT); nếu kỳ này chưa được "
        f"công bố, chạy dti run --period {PERIOD}."
    ]
    assert cli.main(["audit", "--period", str(PERIOD), *paths, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["publication"] is None and report["looked_in"] == str(looked)
