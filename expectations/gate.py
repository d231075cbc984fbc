"""The gate: validate one checkpoint with its Great Expectations suite, record it, stop on failure.

``validate_checkpoint(settings, checkpoint, period)`` runs the checkpoint's suite against the warehouse
(SQL pushed down into DuckDB through GX's SQL datasource, see ``duckdb_sql``), stores the GX
validation result and rebuilds the Data Docs under ``Settings.work_dir / "gx"``, records the
run in ``audit.validation_runs`` and returns a ``ValidationRun``. When a *critical*
expectation failed (or could not run) it raises ``GateFailed`` instead, after recording: the
audit trail keeps the failures too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dti.settings import Settings
from expectations.audit import record_validation_run
from expectations.data_docs import make_offline, record_verdict
from expectations.suites import CHECKPOINT_DEFINITIONS, CHECKPOINTS, CRITICAL, WARNING, build_suite
from expectations.validation_run import ValidationRun

log = logging.getLogger(__name__)

DATASOURCE_NAME = "warehouse"
SAMPLE_ROWS = 20  # failing rows kept per expectation in the audit trail
MESSAGE_ROWS = 3  # failing rows named per expectation in the gate's message
RESULT_FORMAT = {"result_format": "COMPLETE"}


class GateFailed(Exception):
    """A critical expectation failed: nothing may be published from this data."""

    def __init__(self, run: ValidationRun) -> None:
        self.run = run
        lines = [
            f"validation gate failed: suite '{run.suite}' (checkpoint {run.checkpoint}, period "
            f"{run.period}, run {run.run_id}) — {len(run.critical_failures)} critical "
            "expectation(s) failed; nothing was published"
        ]
        lines += [f"  - {failure}" for failure in run.critical_failures]
        if run.report_path:
            lines.append(f"  report: {run.report_path}")
        super().__init__("\n".join(lines))


# --- GX context ---------------------------------------------------------------------------


def gx_root(settings: Settings) -> Path:
    """This warehouse's GX project folder (results and Data Docs live under ``gx/uncommitted``)."""
    return settings.work_dir / "gx"


def data_docs_index(settings: Settings) -> Path:
    return gx_root(settings) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _runtime_context(settings: Settings):
    """The file-backed GX context of this warehouse (created on first use, no analytics)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:  # GX's INFO chatter would drown `dti -v`
        gx_logger.setLevel(logging.WARNING)

    root = gx_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=root)
    if context.variables.analytics_enabled is not False:
        context.variables.analytics_enabled = False
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        context.variables.save()
    return context


def _run_checkpoint(settings: Settings, checkpoint: str, period: int, run_id: str):
    """Runs the checkpoint's GX checkpoint; returns the suite's validation result."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    from expectations.duckdb_sql import close_connections, connection_string

    definition = CHECKPOINT_DEFINITIONS[checkpoint]
    context = _runtime_context(settings)
    suite = context.suites.add_or_update(build_suite(checkpoint, settings))
    datasource = context.data_sources.add_or_update_sql(
        name=DATASOURCE_NAME, connection_string=connection_string(settings.warehouse)
    )
    try:
        # One asset, validation definition and checkpoint per checkpoint *and period*, each
        # rebuilt on every run: a warehouse holds every period, validated in any order, and
        # no stored definition ever points at another period's batch.
        asset_name = f"{checkpoint}_rows_{period}"
        if asset_name in datasource.get_asset_names():
            datasource.delete_asset(asset_name)
        asset = datasource.add_query_asset(name=asset_name, query=definition.batch_sql(period))
        batch_definition = asset.add_batch_definition_whole_table(f"period_{period}")
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(
                name=f"{checkpoint}_{period}", data=batch_definition, suite=suite
            )
        )
        gx_checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"dti_{checkpoint}_{period}",
                validation_definitions=[validation],
                actions=[UpdateDataDocsAction(name="update_data_docs")],
                result_format=RESULT_FORMAT,
            )
        )
        result = gx_checkpoint.run(run_id=RunIdentifier(run_name=run_id))
    finally:
        # GX keeps pooled read-only connections alive: free the warehouse for the next writer
        for source in list(context.data_sources.all().values()) + [datasource]:
            engine = getattr(source, "_engine", None)
            if engine is not None:
                engine.dispose()
        closed = close_connections()
        log.debug("closed %d validation connection(s) to the warehouse", closed)
    return next(iter(result.run_results.values()))


# --- reading the result ---------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _exception_message(expectation_result) -> str | None:
    info = expectation_result.exception_info or {}
    if "raised_exception" in info:
        infos = [info]
    else:
        infos = [v for v in info.values() if isinstance(v, dict)]
    for item in infos:
        if item.get("raised_exception"):
            message = str(item.get("exception_message") or "unknown error")
            return " ".join(message.split())[:400]
    return None


@dataclass
class _Outcome:
    check: str
    severity: str
    description: str
    success: bool
    failing_count: int | None
    sample: list[dict[str, Any]]
    error: str | None
    observed: Any = None  # table-level expectations: what was observed instead of rows

    def summary(self, rows: int = MESSAGE_ROWS) -> str:
        if self.error:
            return f"expectation '{self.check}' could not run ({self.error}) — {self.description}"
        if self.observed is not None:
            return f"expectation '{self.check}' — {self.description} — observed {self.observed}"
        shown = json.dumps(self.sample[:rows], ensure_ascii=False, default=str)
        count = "?" if self.failing_count is None else self.failing_count
        return (
            f"expectation '{self.check}' — {self.description} — {count} failing row(s), "
            f"e.g. {shown}"
        )


def _outcomes(suite_result) -> list[_Outcome]:
    outcomes = []
    for expectation_result in suite_result.results:
        config = expectation_result.expectation_config
        meta = config.meta or {}
        severity = str(meta.get("severity") or getattr(config.severity, "value", config.severity))
        result = expectation_result.result or {}
        error = _exception_message(expectation_result)
        sample: list[dict[str, Any]] = []
        failing: int | None = None
        observed: Any = None
        if config.type == "unexpected_rows_expectation":
            failing = result.get("observed_value")
            sample = (result.get("details") or {}).get("unexpected_rows") or []
        elif "observed_value" in result:  # table-level expectations: what was observed
            observed = _jsonable(result["observed_value"])
            sample = [{"observed_value": observed}]
        outcomes.append(
            _Outcome(
                check=str(meta.get("check") or config.type),
                severity=severity,
                description=str(config.description or config.type),
                success=bool(expectation_result.success) and error is None,
                failing_count=failing,
                sample=_jsonable(sample[:SAMPLE_ROWS]),
                error=error,
                observed=observed,
            )
        )
    return outcomes


def _paths_of_result(settings: Settings, suite_name: str, run_id: str) -> tuple[str, str]:
    """(stored GX validation result JSON, its Data Docs page) of this run, when written."""
    gx_dir = gx_root(settings) / "gx" / "uncommitted"
    results = sorted((gx_dir / "validations" / suite_name / run_id).rglob("*.json"))
    pages = sorted(
        (gx_dir / "data_docs" / "local_site" / "validations" / suite_name / run_id).rglob("*.html")
    )
    return (str(results[0]) if results else "", str(pages[0]) if pages else "")


# --- fingerprint and audit --------------------------------------------------------------------


def data_fingerprint(
    settings: Settings, checkpoint: str, period: int
) -> tuple[str, dict[str, Any]]:
    """sha256 over each validated table's row count and order-independent row-hash sum.

    DuckDB's ``hash()`` is stable for a DuckDB version, so the fingerprint says "the same data"
    across runs of the same pipeline build; it is not meant to be recomputed by another tool.
    """
    import duckdb

    parts: list[str] = []
    tables: dict[str, Any] = {}
    connection = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        for table, by_period in CHECKPOINT_DEFINITIONS[checkpoint].tables:
            where = f"where period = {int(period)}" if by_period else ""
            try:
                count, hashed = connection.execute(
                    f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "
                    f"from {table} as t {where}"
                ).fetchall()[0]
            except duckdb.Error as exc:  # a missing table is part of the fingerprint too
                count, hashed = None, f"unreadable: {type(exc).__name__}"
            tables[table] = {"rows": count, "hash_sum": hashed}
            parts.append(f"{table}\t{count}\t{hashed}")
    finally:
        connection.close()
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
    return f"sha256:{digest}", tables


def _finish(settings: Settings, run: ValidationRun) -> None:
    record_validation_run(settings, run)


# --- the gate ---------------------------------------------------------------------------------


def new_run_id(checkpoint: str, period: int) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{period}-{checkpoint}-{stamp}-{uuid.uuid4().hex[:6]}"


def validate_checkpoint(settings: Settings, checkpoint: str, period: int) -> ValidationRun:
    """Validates ``checkpoint`` of ``period``; raises ``GateFailed`` when a critical check fails."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(
            f"unknown checkpoint {checkpoint!r}; expected one of {', '.join(CHECKPOINTS)}"
        )
    if not settings.warehouse.exists():
        raise FileNotFoundError(
            f"warehouse {settings.warehouse} does not exist: run `dti run` (or ingest and "
            "build) first"
        )
    period = int(period)
    suite_name = CHECKPOINT_DEFINITIONS[checkpoint].suite_name
    run_id = new_run_id(checkpoint, period)
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    log.info("validating checkpoint %s of period %s (run %s)", checkpoint, period, run_id)

    suite_result = _run_checkpoint(settings, checkpoint, period, run_id)
    validation_seconds = time.perf_counter() - clock
    outcomes = _outcomes(suite_result)
    fingerprint, tables = data_fingerprint(settings, checkpoint, period)
    result_path, page_path = _paths_of_result(settings, suite_name, run_id)

    failed = [o for o in outcomes if not o.success]
    critical = [o for o in failed if o.severity != WARNING]
    warnings = [o for o in failed if o.severity == WARNING]
    statistics = {
        "evaluated_expectations": len(outcomes),
        "successful_expectations": len(outcomes) - len(failed),
        "critical_expectations": sum(o.severity == CRITICAL for o in outcomes),
        "failed_critical": len(critical),
        "failed_warnings": len(warnings),
        "validation_seconds": round(validation_seconds, 3),
        "tables": tables,
        "expectations": {
            o.check: {
                "severity": o.severity,
                "success": o.success,
                "failing_rows": o.failing_count,
                **({"error": o.error} if o.error else {}),
            }
            for o in outcomes
        },
    }
    run = ValidationRun(
        run_id=run_id,
        suite=suite_name,
        checkpoint=checkpoint,
        period=period,
        success=not critical,
        critical_failures=[o.summary() for o in critical],
        warnings=[o.summary() for o in warnings],
        statistics=statistics,
        data_fingerprint=fingerprint,
        report_path=page_path or str(data_docs_index(settings)),
        failing_samples={o.check: o.sample for o in failed},
        validation_result_path=result_path,
        data_docs_index=str(data_docs_index(settings)),
        started_at=started.isoformat(),
        finished_at=dt.datetime.now(dt.UTC).isoformat(),
    )
    site = data_docs_index(settings).parent
    record_verdict(
        site,
        run_id=run_id,
        checkpoint=checkpoint,
        period=period,
        page=page_path,
        critical_failures=run.critical_failures,
        warnings=run.warnings,
        finished_at=run.finished_at,
    )
    make_offline(site)
    _finish(settings, run)
    log.info(
        "checkpoint %s period %s: %d expectations, %d critical failures, %d warnings (%.2fs)",
        checkpoint,
        period,
        len(outcomes),
        len(critical),
        len(warnings),
        validation_seconds,
    )
    if critical:
        raise GateFailed(run)
    return run
