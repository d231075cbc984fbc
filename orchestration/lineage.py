"""OpenLineage: what each DTI task reads and writes, for a lineage server (Marquez, DataHub …).

The OpenLineage provider emits a START and a COMPLETE (or FAIL) event per task; their
``inputs`` and ``outputs`` come from ``DtiTaskExtractor`` here, the provider's custom extractor
for ``@task`` tasks (``AIRFLOW__OPENLINEAGE__EXTRACTORS``): the inbox and portal sources, the
``raw`` tables, the registry seeds and tables, the marts, the bundle folder. It runs in the
worker when a task starts and ends, so the DAG files name no dataset and the DAG processor's
parse never imports the OpenLineage client (its transports pull in requests and an HTTP
client: the bulk of a DAG file's import time when they were built at parse time). Events go to a file of JSON lines under the warehouse's work folder
by default (``<warehouse>_work/openlineage/events.jsonl``), or to the HTTP endpoint of
``DTI_OPENLINEAGE_URL``; ``lineage_env`` is the Airflow configuration that says so, handed to
every service by ``orchestration.stack``.

Datasets are named as the OpenLineage naming spec says, so a lineage server joins them with
other producers' events (docs/operating.md, "Lineage"):

- a local file or folder: namespace ``file``, name its absolute path;
- a DuckDB table: namespace ``duckdb://<warehouse path>``, name ``<database>.<schema>.<table>``
  (the database is DuckDB's catalog name of the file), as dbt-ol names dbt-duckdb's models;
- the portal's PostgreSQL table: namespace ``postgres://<host>:<port>``, name
  ``<database>.<schema>.portal_submissions``;
- an HTTP endpoint: namespace ``<scheme>://<host>[:<port>]``, name the URL's path.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.openlineage.extractors.base import BaseExtractor, OperatorLineage

from dti.settings import OrchestrationSettings, Settings, load_settings

if TYPE_CHECKING:
    from openlineage.client.event_v2 import Dataset

RAW_TABLES = ("raw.submission_rows", "raw.load_ledger", "raw.quarantine_rows", "raw.watermarks")
REGISTRY_TABLES = (
    "registry.frameworks", "registry.levels", "registry.pillars", "registry.indicators",
    "registry.units", "registry.periods", "registry.value_words",
)  # fmt: skip
# the tables each checkpoint's suite reads (expectations/suites.py)
CHECKPOINT_TABLES = {
    "framework": REGISTRY_TABLES[:5],
    "submissions": ("raw.submission_rows", "raw.load_ledger"),
    "counted_answers": ("intermediate.int_answers_latest",),
    "scores": ("marts.fct_unit_scores", "marts.fct_pillar_scores", "marts.fct_indicator_points"),
}


def events_file(settings: Settings) -> Path:
    return settings.work_dir / "openlineage" / "events.jsonl"


EXTRACTOR = "orchestration.lineage.DtiTaskExtractor"


def lineage_env(settings: Settings, orchestration: OrchestrationSettings) -> dict[str, str]:
    """``AIRFLOW__OPENLINEAGE__*``: an HTTP transport when ``DTI_OPENLINEAGE_URL`` is set, else
    a file of JSON lines next to the warehouse."""
    if orchestration.openlineage_url:
        transport: dict[str, Any] = {"type": "http", "url": orchestration.openlineage_url}
    else:
        path = events_file(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        transport = {"type": "file", "log_file_path": str(path), "append": True}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": orchestration.openlineage_namespace,
        "AIRFLOW__OPENLINEAGE__EXTRACTORS": EXTRACTOR,
        # the listener builds each event in a fork with a time limit (10 s by default): a
        # worker busy with dbt or GX next door can need longer, and then the event is lost
        "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "60",
    }


def _dataset(namespace: str, name: str) -> Dataset:
    from openlineage.client.event_v2 import Dataset

    return Dataset(namespace=namespace, name=name)


def _file(path: Path) -> Dataset:
    """The spec's local file system: namespace ``file``, the absolute path as the name."""
    return _dataset("file", str(path))


def duckdb_database(warehouse: Path) -> str:
    """DuckDB's catalog name of a database file: the first dot-separated part of the file name
    (``warehouse.duckdb`` → ``warehouse``); dbt-duckdb names ``target.database`` the same way,
    so dbt-ol's events and ours name one table alike."""
    return warehouse.name.lstrip(".").split(".")[0]


def _tables(settings: Settings, *names: str) -> list[Dataset]:
    """DuckDB tables given as ``schema.table``: one file is one database, its path the
    namespace (as dbt-ol writes ``duckdb://<profile path>``), ``database.schema.table`` the
    name."""
    namespace = f"duckdb://{settings.warehouse}"
    database = duckdb_database(settings.warehouse)
    return [_dataset(namespace, f"{database}.{n}") for n in names]


def _http(url: str, resource: str = "") -> Dataset:
    """An HTTP endpoint as a URI split the spec's way: ``scheme://host[:port]`` the namespace,
    the path the name; credentials, query and fragment are not part of a dataset's name."""
    parts = urllib.parse.urlsplit(url)
    authority = parts.hostname or ""
    if parts.port:
        authority += f":{parts.port}"
    path = parts.path.rstrip("/") + (f"/{resource}" if resource else "")
    return _dataset(f"{parts.scheme}://{authority}", path or "/")


def portal_table(dsn: str) -> tuple[str, str] | None:
    """(namespace, name) of the portal's ``portal_submissions`` table for a PostgreSQL DSN (a
    URI or ``key=value`` words). ingest.portal_db reads the table first on the search path: the
    schema is the first one the DSN's ``options`` set with ``-c search_path=``, else ``public``
    (PostgreSQL's default for a role without a schema of its own name). ``None`` for a DSN
    that does not parse: the ingest task then fails with the driver's own words, where a
    failure belongs, instead of the DAG file failing to load."""
    import psycopg2
    from psycopg2.extensions import parse_dsn

    try:
        words = parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return None
    host = words.get("host") or "localhost"
    if host.startswith("/"):  # a Unix socket folder: the server on this machine
        host = "localhost"
    port = words.get("port") or "5432"
    database = words.get("dbname") or words.get("user") or "postgres"
    schema = "public"
    found = re.search(r"-c\s*search_path\s*=\s*(\S+)", words.get("options", ""))
    if found:
        first = found.group(1).split(",")[0].strip().strip('"')
        if first and first != "$user":
            schema = first
    return f"postgres://{host}:{port}", f"{database}.{schema}.portal_submissions"


def _marts(settings: Settings) -> tuple[str, ...]:
    """Every model of dbt's marts folder (listing a folder: cheap enough at parse time)."""
    folder = settings.dbt_project_dir / "models" / "marts"
    return tuple(sorted(f"marts.{p.stem}" for p in folder.glob("*.sql")))


def task_lineage(settings: Settings, dag_id: str, task_id: str) -> tuple[list, list]:
    """(inputs, outputs) of one DTI task; ``([], [])`` for a task that touches no data."""
    marts = _marts(settings)
    if (dag_id, task_id) == ("dti_ingest", "ingest_submissions"):
        inputs = [_file(settings.inbox)]
        if settings.portal_api_url:
            inputs.append(_http(settings.portal_api_url, "submissions"))
        portal = portal_table(settings.portal_db_dsn) if settings.portal_db_dsn else None
        if portal:
            inputs.append(_dataset(*portal))
        return inputs, [*_tables(settings, *RAW_TABLES), _file(settings.archive)]
    if (dag_id, task_id) == ("dti_transform", "transform"):
        # the seed reads the registry files; the build and the gates read the raw answers
        inputs = [_file(settings.seeds_dir), *_tables(settings, *CHECKPOINT_TABLES["submissions"])]
        built = (*REGISTRY_TABLES, *CHECKPOINT_TABLES["counted_answers"], *marts)
        return inputs, _tables(settings, *built)
    if (dag_id, task_id) == ("dti_publish", "write_bundle"):
        return _tables(settings, *marts, "raw.load_ledger"), [_file(settings.out)]
    if (dag_id, task_id) == ("dti_approve", "make_current"):
        return [_file(settings.out)], [_file(settings.out)]
    if (
        task_id == "push_to_site"
        and dag_id in ("dti_publish", "dti_approve")
        and settings.publish_url
    ):
        return [_file(settings.out)], [_http(settings.publish_url)]
    if (dag_id, task_id) == ("dti_reminders", "send_reminders"):
        return _tables(settings, "marts.fct_unit_scores", "marts.fct_indicator_points"), []
    return [], []


class DtiTaskExtractor(BaseExtractor):
    """The datasets of a DTI task (``task_lineage``) as the provider's extractor for ``@task``
    tasks. A task of another DAG gets an empty answer, on which the provider falls back to what
    it does without this extractor (hook lineage, then the task's inlets and outlets)."""

    @classmethod
    def get_operator_classnames(cls) -> list[str]:
        return ["_PythonDecoratedOperator"]

    def _execute_extraction(self) -> OperatorLineage:
        inputs, outputs = task_lineage(load_settings(), self.operator.dag_id, self.operator.task_id)
        return OperatorLineage(inputs=inputs, outputs=outputs)
