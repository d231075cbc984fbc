"""OpenLineage: each task names what it reads and writes (the provider asks our extractor when
the task starts and ends); datasets are named by the spec; events go to a file unless told."""

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


def _lineage(dags: dict, dag_id: str, task_id: str):
    """What the provider's listener gets from our extractor when the task starts."""
    from orchestration.lineage import DtiTaskExtractor

    return DtiTaskExtractor(dags[dag_id].get_task(task_id)).extract()


def test_each_task_names_the_data_it_reads_and_writes(monkeypatch, tmp_path):
    dags = _dags(monkeypatch, tmp_path)
    ingest = _lineage(dags, "dti_ingest", "ingest_submissions")
    assert str(tmp_path / "inbox") in _names(ingest.inputs)
    raw = {"warehouse.raw.submission_rows", "warehouse.raw.load_ledger"}
    assert raw <= _names(ingest.outputs)
    # the Airflow asset that chains the DAGs stays the task's outlet, the only one
    assert _names(dags["dti_ingest"].get_task("ingest_submissions").outlets) == {RAW.name}

    # one task: the registry files seeded, the raw answers built into the marts and gated
    build = _lineage(dags, "dti_transform", "transform")
    assert raw <= _names(build.inputs)
    marts = {
        f"warehouse.marts.{p.stem}"
        for p in (PROJECT_ROOT / "dbt_project/models/marts").glob("*.sql")
    }
    assert marts and marts | {"warehouse.registry.indicators"} <= _names(build.outputs)
    assert {o.namespace for o in build.outputs} == {
        f"duckdb://{tmp_path / 'wh' / 'warehouse.duckdb'}"
    }
    assert _names(dags["dti_transform"].get_task("transform").outlets) == {MARTS.name}

    bundle = _lineage(dags, "dti_publish", "write_bundle")
    assert "warehouse.marts.fct_unit_scores" in _names(bundle.inputs)
    assert str(tmp_path / "out") in _names(bundle.outputs)
    # the asset event only comes with a current release, from the push
    assert BUNDLE.name in _names(dags["dti_publish"].get_task("push_to_site").outlets)
    # a task that touches no data names none
    assert _lineage(dags, "dti_rerun", "announce_periods").inputs == []


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
    """What the provider's listener does when a task ends, configured as the stack configures
    every service (the e2e test reads real events)."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    task = _dags(monkeypatch, tmp_path)["dti_publish"].get_task("write_bundle")
    env = lineage_env(load_settings(), load_orchestration_settings())
    # the provider reads its configuration anew under pytest (it caches it elsewhere)
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__EXTRACTORS", env["AIRFLOW__OPENLINEAGE__EXTRACTORS"])

    class DagRun:
        run_id = "manual__1"

    lineage = ExtractorManager().extract_metadata(DagRun(), task, TaskInstanceState.SUCCESS, None)
    warehouse = f"duckdb://{tmp_path / 'wh' / 'warehouse.duckdb'}"
    inputs = {(d.namespace, d.name) for d in lineage.inputs}
    assert (warehouse, "warehouse.marts.fct_unit_scores") in inputs
    # the Asset is not OL's
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", str(tmp_path / "out"))]


def _namespaces(datasets) -> dict[str, str]:
    return {d.name: d.namespace for d in datasets}


def test_every_dataset_is_named_as_the_openlineage_naming_spec_says(monkeypatch, tmp_path):
    """Local files: ``file`` and the path; PostgreSQL: ``postgres://host:port`` and
    ``database.schema.table``; HTTP: ``scheme://host:port`` and the path; DuckDB: the file's
    path and ``database.schema.table`` (the spec's own helpers agree where it has one)."""
    from openlineage.client.naming.dataset import LocalFileSystem, Postgres

    monkeypatch.setenv("DTI_PORTAL_API_URL", "https://user:pw@portal.example:8443/api/v1/?x=1")
    monkeypatch.setenv(
        "DTI_PORTAL_DB_DSN",
        "postgresql://dti:secret@db.example:6543/portal?options=-c%20search_path%3Dintake,public",
    )
    monkeypatch.setenv("DTI_PUBLISH_URL", "https://site.example/dti/bundles/")
    dags = _dags(monkeypatch, tmp_path)

    inbox = str(tmp_path / "inbox")
    postgres = Postgres(host="db.example", port="6543", database="portal", schema="intake",
                        table="portal_submissions")  # fmt: skip
    ingest = _namespaces(_lineage(dags, "dti_ingest", "ingest_submissions").inputs)
    assert ingest[inbox] == LocalFileSystem(path=inbox).get_namespace() == "file"
    assert ingest[postgres.get_name()] == postgres.get_namespace() == "postgres://db.example:6543"
    assert ingest["/api/v1/submissions"] == "https://portal.example:8443"  # no credentials
    push = _lineage(dags, "dti_publish", "push_to_site").outputs
    assert [(d.namespace, d.name) for d in push] == [("https://site.example", "/dti/bundles")]

    # every dataset of every task: a namespace of a scheme the spec names, never a host's file
    schemes = set()
    for dag in dags.values():
        for task in dag.tasks:
            lineage = _lineage(dags, dag.dag_id, task.task_id)
            for d in [*lineage.inputs, *lineage.outputs]:
                schemes.add(d.namespace.split("://")[0])
                assert not d.namespace.startswith("file://"), d
    assert schemes == {"file", "duckdb", "postgres", "https"}


def test_duckdb_tables_join_the_names_dbt_gives_them(tmp_path) -> None:
    """dbt-ol names a dbt-duckdb model ``duckdb://<profile path>`` and
    ``<target.database>.<schema>.<table>``: the database is dbt-duckdb's name for the file."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    from orchestration.lineage import duckdb_database

    for name in ("warehouse.duckdb", "my.national.duckdb", ".hidden.duckdb", "plain"):
        path = tmp_path / name
        assert duckdb_database(path) == DuckDBCredentials.path_derived_database_name(str(path))


@pytest.mark.parametrize(
    ("dsn", "namespace", "name"),
    [
        ("host=/var/run/postgresql dbname=portal", "postgres://localhost:5432",
         "portal.public.portal_submissions"),
        ("host=db port=5433 dbname=portal options='-c search_path=\"$user\",public'",
         "postgres://db:5433", "portal.public.portal_submissions"),
        ("postgresql://u@db/portal?options=-csearch_path%3Dintake", "postgres://db:5432",
         "portal.intake.portal_submissions"),
    ],
)  # fmt: skip
def test_the_portal_table_is_named_from_its_dsn(dsn: str, namespace: str, name: str) -> None:
    from orchestration.lineage import portal_table

    assert portal_table(dsn) == (namespace, name)


def test_a_dsn_that_does_not_parse_names_no_table_and_leaves_the_dag_loading() -> None:
    from orchestration.lineage import portal_table

    assert portal_table("host=db dbname") is None
