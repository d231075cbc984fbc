"""OpenLineage: each task names what it reads and writes; events go to a file unless told."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT, load_orchestration_settings, load_settings
from orchestration.assets import BUNDLE, MARTS, RAW
from orchestration.lineage import lineage_env


def _dags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("DTI_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("DTI_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    monkeypatch.setenv("DTI_OUT", str(tmp_path / "out"))
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def _names(objects) -> set[str]:
    return {getattr(o, "name", None) for o in objects}


def test_tasks_carry_their_datasets_beside_the_assets_that_chain_the_dags(monkeypatch, tmp_path):
    dags = _dags(monkeypatch, tmp_path)
    ingest = dags["dti_ingest"].get_task("ingest_submissions")
    assert str(tmp_path / "inbox") in _names(ingest.inlets)
    assert {RAW.name, "raw.submission_rows", "raw.load_ledger"} <= _names(ingest.outlets)

    # one task: the registry files seeded, the raw answers built into the marts and gated
    build = dags["dti_transform"].get_task("transform")
    assert {"raw.submission_rows", "raw.load_ledger"} <= _names(build.inlets)
    marts = {f"marts.{p.stem}" for p in (PROJECT_ROOT / "dbt_project/models/marts").glob("*.sql")}
    assert marts and marts | {"registry.indicators"} <= _names(build.outlets)
    namespaces = {o.namespace for o in build.outlets if o.name != MARTS.name}
    assert namespaces == {f"duckdb://{tmp_path / 'wh' / 'warehouse.duckdb'}"}

    bundle = dags["dti_publish"].get_task("write_bundle")
    assert "marts.fct_unit_scores" in _names(bundle.inlets)
    assert str(tmp_path / "out") in _names(bundle.outlets)
    # the asset event only comes with a current release, from the push
    assert BUNDLE.name in _names(dags["dti_publish"].get_task("push_to_site").outlets)


def test_events_go_to_a_file_beside_the_warehouse_by_default(tmp_path) -> None:
    environ = {"DTI_WAREHOUSE": str(tmp_path / "w.duckdb")}
    env = lineage_env(load_settings(environ), load_orchestration_settings(environ))
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport == {
        "type": "file",
        "log_file_path": str(tmp_path / "w_work" / "openlineage" / "events.jsonl"),
        "append": True,
    }
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "dti"


def test_an_http_endpoint_by_setting(tmp_path) -> None:
    environ = {
        "DTI_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "DTI_OPENLINEAGE_URL": "http://marquez:5000",
        "DTI_OPENLINEAGE_NAMESPACE": "dti-hcm",
    }
    env = lineage_env(load_settings(environ), load_orchestration_settings(environ))
    assert json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"]) == {
        "type": "http",
        "url": "http://marquez:5000",
    }
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "dti-hcm"


def test_the_stack_hands_the_lineage_configuration_to_every_service(tmp_path) -> None:
    from orchestration.stack import StackConfig

    cfg = StackConfig(
        home=tmp_path / "home",
        isolated=True,
        dti_env={"DTI_WAREHOUSE": str(tmp_path / "w.duckdb")},
    )
    env = cfg.env()
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["log_file_path"].startswith(str(tmp_path / "w_work"))


def test_the_openlineage_provider_reads_them_as_the_events_inputs_and_outputs(
    monkeypatch, tmp_path
) -> None:
    """What the provider's listener does when a task ends (the e2e test reads real events)."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    task = _dags(monkeypatch, tmp_path)["dti_publish"].get_task("write_bundle")

    class DagRun:
        run_id = "manual__1"

    lineage = ExtractorManager().extract_metadata(DagRun(), task, TaskInstanceState.SUCCESS, None)
    warehouse = f"duckdb://{tmp_path / 'wh' / 'warehouse.duckdb'}"
    assert (warehouse, "marts.fct_unit_scores") in {(d.namespace, d.name) for d in lineage.inputs}
    assert [d.name for d in lineage.outputs] == [str(tmp_path / "out")]  # the Asset is not OL's
