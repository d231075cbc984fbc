"""The gate: validate one checkpoint with its Great Expectations suite, record it, stop on failure.

``validate_checkpoint(settings, checkpoint, period)`` runs the checkpoint's suite against the warehouse
(SQL pushed down into DuckDB through GX's SQL datasource, see ``duckdb_sql``), stores the GX
validation result under ``Settings.work_dir / "gx"``, records the run in
``audit.validation_runs`` and returns a ``ValidationRun``. When a *critical* expectation
failed (or could not run) it raises ``GateFailed`` instead, after recording: the audit trail
keeps the failures too.

What a run pays whatever its data (the fixed cost) is kept small:

- **One GX context and one Data Docs build per run.** ``validation_session`` holds the context
  for every checkpoint validated inside it and builds the Data Docs once when it ends (only
  the new pages, and the index); a checkpoint validated outside a session is a session of
  its own. The site keeps the last ``DTI_DATA_DOCS_KEEP_RUNS`` runs of each suite; older pages
  are pruned, their GX result JSON (``validation_result_path``) and audit rows stay.
- **Validate only what changed.** A checkpoint whose data (every table its rules read, see
  ``checkpoints``) and rules are those of its last run, and whose last run *passed*, is not
  validated again: the run is recorded with the earlier verdict (``statistics.reused_from``)
  without importing GX. A run that blocked is always validated again, so a critical failure
  on unchanged data blocks again.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import hashlib
import json
import logging
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from dti.settings import Settings
from dti.vocabulary import CHECKPOINTS
from expectations.checkpoints import (
    CHECKPOINT_DEFINITIONS,
    CRITICAL,
    WARNING,
    anomaly_thresholds,
    rows_of,
)
from expectations.data_docs import make_offline, prune_pages, record_verdict
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


# --- GX context and the run's session ---------------------------------------------------------


def gx_root(settings: Settings) -> Path:
    """This warehouse's GX project folder (results and Data Docs live under ``gx/uncommitted``)."""
    return settings.work_dir / "gx"


def data_docs_index(settings: Settings) -> Path:
    return gx_root(settings) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _validations_dir(settings: Settings) -> Path:
    return gx_root(settings) / "gx" / "uncommitted" / "validations"


def _runtime_context(settings: Settings):
    """The file-backed GX context of this warehouse (created on first use, no analytics)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:  # GX's INFO chatter would drown `dti -v`
        gx_logger.setLevel(logging.WARNING)

    _frame_scan_without_source()
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


class _Frame(NamedTuple):
    filename: str
    function: str


def _frame_names() -> list[_Frame]:
    """The caller's stack as ``inspect.stack()`` lists it, file and function names only."""
    frames = []
    frame = sys._getframe(1)
    while frame is not None:
        frames.append(_Frame(frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    return frames


def _frame_scan_without_source() -> None:
    """GX turns each decimal of a result it stores into a float after looking up the call
    stack for a profiler's frame (``great_expectations.util.convert_decimal_to_float``) with
    ``inspect.stack()``, which resolves the source file and reads the lines around every
    frame: in a profile of the four gates it took a quarter of their time (387 decimals of
    failing-row samples, each a walk of ~25 frames). The look-up compares file and function
    names only, which the frames hold: same answer, none of the file work."""
    import great_expectations.util as gx_util

    gx_util.stack = _frame_names


@dataclass
class _Verdict:
    """What the Data Docs show of one run: written when the session builds the site."""

    run_id: str
    checkpoint: str
    period: int
    page: str
    critical_failures: list[str]
    warnings: list[str]
    finished_at: str


@dataclass
class _Session:
    """The checkpoints validated in one run: one GX context, one Data Docs build at the end."""

    settings: Settings
    _context: Any = None
    results: list = field(default_factory=list)  # GX ValidationResultIdentifiers to render
    suites: dict[str, Any] = field(default_factory=dict)  # suite name → its identifier
    verdicts: list[_Verdict] = field(default_factory=list)
    docs_seconds: float = 0.0  # what building the Data Docs took, when the session ended

    def context(self):
        if self._context is None:
            self._context = _runtime_context(self.settings)
        return self._context

    def build_data_docs(self) -> None:
        """The pages of this session's runs and the index, once; older pages pruned first."""
        clock = time.perf_counter()
        try:
            self._build_data_docs()
        finally:
            self.docs_seconds = time.perf_counter() - clock

    def _build_data_docs(self) -> None:
        site = data_docs_index(self.settings).parent
        written: list[Path] = []
        if self.results:
            keep = self.settings.data_docs_keep_runs
            adding = Counter(key.expectation_suite_identifier.name for key in self.results)
            pruned = prune_pages(site, keep, adding)
            if pruned:
                log.info("pruned %d Data Docs page(s) beyond the last %d runs", pruned, keep)
            self.context().build_data_docs(
                resource_identifiers=[*self.results, *self.suites.values()]
            )
            written = [site / "expectations" / f"{name}.html" for name in self.suites]
        for verdict in self.verdicts:
            record_verdict(site, **asdict(verdict))
            if verdict.page:
                written.append(Path(verdict.page))
        if written:
            make_offline(site, only=written)


_SESSION: contextvars.ContextVar[_Session | None] = contextvars.ContextVar(
    "dti_validation_session", default=None
)


@contextmanager
def validation_session(settings: Settings) -> Iterator[_Session]:
    """Validates every checkpoint inside with one GX context and builds the Data Docs once,
    when the block ends (also when a gate failed: the failure is what the auditor opens).
    Nested sessions of the same warehouse are one session."""
    active = _SESSION.get()
    if active is not None and gx_root(active.settings) == gx_root(settings):
        yield active
        return
    session = _Session(settings)
    token = _SESSION.set(session)
    try:
        yield session
    except BaseException:
        _SESSION.reset(token)
        try:
            session.build_data_docs()
        except Exception:  # the gate's own error is the one to report
            log.exception("building the Data Docs after a failed validation failed")
        raise
    _SESSION.reset(token)
    session.build_data_docs()


def _run_checkpoint(session: _Session, checkpoint: str, period: int, run_id: str):
    """Runs the checkpoint's GX checkpoint; returns (result identifier, suite's result)."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    from expectations.duckdb_sql import close_connections, connection_string
    from expectations.suites import build_suite

    settings = session.settings
    definition = CHECKPOINT_DEFINITIONS[checkpoint]
    context = session.context()
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
        # no Data Docs action: the session builds the site once for all its checkpoints
        gx_checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"dti_{checkpoint}_{period}",
                validation_definitions=[validation],
                actions=[],
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
    key, suite_result = next(iter(result.run_results.items()))
    session.results.append(key)
    session.suites[suite.name] = key.expectation_suite_identifier
    return key, suite_result


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


def _paths_of_result(settings: Settings, key) -> tuple[str, str]:
    """(stored GX validation result JSON, the Data Docs page the session will build for it):
    the site mirrors the results store's folders (``validations/<suite>/<run>/<time>/<batch>``)."""
    relative = Path(*key.to_tuple()).with_suffix("")
    found = sorted(_validations_dir(settings).glob(f"{relative}*.json"))
    result = found[0] if found else None
    if result is None:  # the batch id of the file name is GX's to choose: find it
        found = sorted((_validations_dir(settings) / key.to_tuple()[0]).rglob("*.json"))
        found = [p for p in found if key.run_id.run_name in p.parts]
        result = found[0] if found else None
    if result is None:
        return "", ""
    page = (
        data_docs_index(settings).parent
        / "validations"
        / result.relative_to(_validations_dir(settings)).with_suffix(".html")
    )
    return str(result), str(page)


# --- fingerprint and audit --------------------------------------------------------------------


def data_fingerprint(
    settings: Settings, checkpoint: str, period: int
) -> tuple[str, dict[str, Any]]:
    """sha256 over the row count and order-independent row-hash sum of every table the
    checkpoint's rules read (``checkpoints.Checkpoint.tables``).

    DuckDB's ``hash()`` is stable for a DuckDB version, so the fingerprint says "the same data"
    across runs of the same pipeline build; it is not meant to be recomputed by another tool.
    """
    import duckdb

    parts: list[str] = []
    tables: dict[str, Any] = {}
    connection = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        for table, periods in CHECKPOINT_DEFINITIONS[checkpoint].tables:
            try:
                count, hashed = connection.execute(
                    f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "
                    f"from {table} as t {rows_of(periods, period)}"
                ).fetchall()[0]
            except duckdb.Error as exc:  # a missing table is part of the fingerprint too
                count, hashed = None, f"unreadable: {type(exc).__name__}"
            tables[table] = {"rows": count, "hash_sum": hashed}
            parts.append(f"{table}\t{periods}\t{count}\t{hashed}")
    finally:
        connection.close()
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
    return f"sha256:{digest}", tables


_RULE_SOURCES = ("checkpoints.py", "suites.py", "gate.py", "duckdb_sql.py")


def rules_fingerprint(settings: Settings, checkpoint: str) -> str:
    """sha256 of what decides a verdict besides the data: the code of the suites and of the
    gate, the anomaly thresholds in use, the checkpoint's batch and the GX and DuckDB
    versions. Computed without importing GX."""
    digest = hashlib.sha256()
    for value in (
        checkpoint,
        CHECKPOINT_DEFINITIONS[checkpoint].batch_query,
        json.dumps(anomaly_thresholds(settings), sort_keys=True),
        metadata.version("great_expectations"),
        metadata.version("duckdb"),
    ):
        digest.update(f"{value}\n".encode())
    here = Path(__file__).resolve().parent
    for name in _RULE_SOURCES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()}"


def _finish(settings: Settings, run: ValidationRun) -> None:
    from expectations.audit import record_validation_run

    record_validation_run(settings, run)


# --- the gate ---------------------------------------------------------------------------------


def new_run_id(checkpoint: str, period: int) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{period}-{checkpoint}-{stamp}-{uuid.uuid4().hex[:6]}"


def _reused(
    settings: Settings, checkpoint: str, period: int, fingerprint: str, rules: str
) -> ValidationRun | None:
    """A new run carrying the verdict of the last run of this checkpoint and period, when that
    run passed (warnings allowed) on the same data under the same rules; else ``None``.

    Only a passing verdict is reused: every rule is a function of the fingerprinted tables,
    except the warning on answers saved in the future (``now()``), which can only stop
    firing as time passes. A run that blocked is always validated again.
    """
    from expectations.audit import last_validation_run

    last = last_validation_run(settings, checkpoint, period)
    if (
        last is None
        or not last["success"]
        or last["data_fingerprint"] != fingerprint
        or (last.get("statistics") or {}).get("rules_fingerprint") != rules
    ):
        return None
    statistics = dict(last["statistics"])
    origin = statistics.get("reused_from") or last["run_id"]
    statistics.update(reused_from=origin, validation_seconds=0.0)
    now = dt.datetime.now(dt.UTC).isoformat()
    return ValidationRun(
        run_id=new_run_id(checkpoint, period),
        suite=last["suite"],
        checkpoint=checkpoint,
        period=int(period),
        success=True,
        critical_failures=[],
        warnings=list(last.get("warnings") or []),
        statistics=statistics,
        data_fingerprint=fingerprint,
        report_path=last.get("report_path") or "",
        failing_samples=dict(last.get("failing_samples") or {}),
        validation_result_path=last.get("validation_result_path") or "",
        data_docs_index=str(data_docs_index(settings)),
        started_at=now,
        finished_at=now,
    )


def validate_checkpoint(
    settings: Settings, checkpoint: str, period: int, reuse: bool = True
) -> ValidationRun:
    """Validates ``checkpoint`` of ``period``; raises ``GateFailed`` when a critical check fails.

    With ``reuse`` (the pipeline's way), unchanged data that passed under the same rules is
    not validated again (see the module's docstring); ``dti validate`` always validates.
    """
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
    # the data is the same before and after the validation (the warehouse has one writer)
    fingerprint, tables = data_fingerprint(settings, checkpoint, period)
    rules = rules_fingerprint(settings, checkpoint)
    if reuse:
        run = _reused(settings, checkpoint, period, fingerprint, rules)
        if run is not None:
            _finish(settings, run)
            log.info(
                "checkpoint %s period %s: data and rules unchanged since run %s, which passed: "
                "not validated again (run %s)",
                checkpoint,
                period,
                run.statistics["reused_from"],
                run.run_id,
            )
            return run
    with validation_session(settings):
        return _validate(settings, checkpoint, period, fingerprint, tables, rules)


def _validate(
    settings: Settings,
    checkpoint: str,
    period: int,
    fingerprint: str,
    tables: dict[str, Any],
    rules: str,
) -> ValidationRun:
    session = _SESSION.get()
    assert session is not None  # validate_checkpoint opened one
    suite_name = CHECKPOINT_DEFINITIONS[checkpoint].suite_name
    run_id = new_run_id(checkpoint, period)
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    log.info("validating checkpoint %s of period %s (run %s)", checkpoint, period, run_id)

    key, suite_result = _run_checkpoint(session, checkpoint, period, run_id)
    validation_seconds = time.perf_counter() - clock
    outcomes = _outcomes(suite_result)
    result_path, page_path = _paths_of_result(settings, key)

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
        "rules_fingerprint": rules,
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
    session.verdicts.append(
        _Verdict(
            run_id=run_id,
            checkpoint=checkpoint,
            period=period,
            page=page_path,
            critical_failures=run.critical_failures,
            warnings=run.warnings,
            finished_at=run.finished_at,
        )
    )
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
