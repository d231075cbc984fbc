"""OpenLineage: what each DTI task reads and writes, for a lineage server (Marquez, DataHub …).

The OpenLineage provider emits a START and a COMPLETE (or FAIL) event per task; their
``inputs`` and ``outputs`` come from the tasks' ``inlets``/``outlets`` that ``annotate`` adds
here: the inbox and portal sources, the ``raw`` tables, the registry seeds and tables, the
marts, the bundle folder. Events go to a file of JSON lines under the warehouse's work folder
by default (``<warehouse>_work/openlineage/events.jsonl``), or to the HTTP endpoint of
``DTI_OPENLINEAGE_URL``; ``lineage_env`` is the Airflow configuration that says so, handed to
every service by ``orchestration.stack``.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dti.settings import OrchestrationSettings, Settings

if TYPE_CHECKING:
    from openlineage.client.event_v2 import Dataset

RAW_TABLES = ("raw.submission_rows", "raw.load_ledger", "raw.quarantine_rows", "raw.watermarks")
REGISTRY_TABLES = (
    "registry.frameworks", "registry.pillars", "registry.indicators", "registry.units",
    "registry.periods", "registry.level_labels", "registry.value_words",
)  # fmt: skip
# the tables each checkpoint's suite reads (expectations/suites.py)
CHECKPOINT_TABLES = {
    "framework": REGISTRY_TABLES[:4],
    "submissions": ("raw.submission_rows", "raw.load_ledger"),
    "counted_answers": ("intermediate.int_answers_latest",),
    "scores": ("marts.fct_unit_scores", "marts.fct_pillar_scores", "marts.fct_indicator_points"),
}


def events_file(settings: Settings) -> Path:
    return settings.work_dir / "openlineage" / "events.jsonl"


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
        # the listener builds each event in a fork with a time limit (10 s by default): a
        # worker busy with dbt or GX next door can need longer, and then the event is lost
        "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "60",
    }


def _file(path: Path) -> Dataset:
    from openlineage.client.event_v2 import Dataset

    return Dataset(namespace=f"file://{socket.gethostname()}", name=str(path))


def _tables(settings: Settings, *names: str) -> list[Dataset]:
    from openlineage.client.event_v2 import Dataset

    # One DuckDB file is one database: its path is the namespace, schema.table the name.
    return [Dataset(namespace=f"duckdb://{settings.warehouse}", name=n) for n in names]


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
            from openlineage.client.event_v2 import Dataset

            inputs.append(Dataset(namespace=settings.portal_api_url, name="submissions"))
        if settings.portal_db_dsn:
            from openlineage.client.event_v2 import Dataset

            inputs.append(Dataset(namespace="postgres", name="portal_submissions"))
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
        from openlineage.client.event_v2 import Dataset

        return [_file(settings.out)], [Dataset(namespace=settings.publish_url, name="bundles")]
    if (dag_id, task_id) == ("dti_reminders", "send_reminders"):
        return _tables(settings, "marts.fct_unit_scores", "marts.fct_indicator_points"), []
    return [], []


def annotate(dag: Any, settings: Settings) -> Any:
    """Adds each task's OpenLineage inputs and outputs to its inlets and outlets (the Airflow
    assets already there stay: they chain the DAGs); returns ``dag``."""
    for task in dag.tasks:
        inputs, outputs = task_lineage(settings, dag.dag_id, task.task_id)
        if inputs:
            task.inlets = [*task.inlets, *inputs]
        if outputs:
            task.outlets = [*task.outlets, *outputs]
    return dag
