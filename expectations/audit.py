"""The audit trail: every validation run in the warehouse, and the report `dti audit` prints.

``audit.validation_runs`` (one row per run, failures included) is written by the gate: the
warehouse has one writer, so each write opens a connection, inserts and closes it.
``audit_report(settings, period)`` joins it with ``raw.load_ledger`` (the inputs and their
sha256), the registry (framework version) and ``<out>/<period>/manifest.json`` (the bundle's
checksums and the runs that gated it).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from dti.settings import Settings
from expectations.validation_run import ValidationRun

log = logging.getLogger(__name__)

AUDIT_TABLE = "audit.validation_runs"

_DDL = f"""
create schema if not exists audit;
create table if not exists {AUDIT_TABLE} (
    run_id varchar primary key,
    suite varchar not null,
    checkpoint varchar not null,
    period integer not null,
    success boolean not null,
    critical_failures json,
    warnings json,
    statistics json,
    failing_samples json,
    data_fingerprint varchar,
    report_path varchar,
    validation_result_path varchar,
    data_docs_index varchar,
    gx_version varchar,
    started_at timestamptz,
    finished_at timestamptz
);
"""

_COLUMNS = (
    "run_id",
    "suite",
    "checkpoint",
    "period",
    "success",
    "critical_failures",
    "warnings",
    "statistics",
    "failing_samples",
    "data_fingerprint",
    "report_path",
    "validation_result_path",
    "data_docs_index",
    "gx_version",
    "started_at",
    "finished_at",
)


def record_validation_run(settings: Settings, run: ValidationRun) -> None:
    """Appends ``run`` to ``audit.validation_runs`` (open, write, close)."""
    from importlib import metadata

    import duckdb

    values = [
        run.run_id,
        run.suite,
        run.checkpoint,
        run.period,
        run.success,
        json.dumps(run.critical_failures, ensure_ascii=False),
        json.dumps(run.warnings, ensure_ascii=False),
        json.dumps(run.statistics, ensure_ascii=False, default=str),
        json.dumps(run.failing_samples, ensure_ascii=False, default=str),
        run.data_fingerprint,
        run.report_path,
        run.validation_result_path,
        run.data_docs_index,
        metadata.version("great_expectations"),  # without importing GX (a reused verdict)
        run.started_at,
        run.finished_at,
    ]
    placeholders = ", ".join("?" for _ in _COLUMNS)
    connection = duckdb.connect(str(settings.warehouse))
    try:
        connection.execute(_DDL)
        _rename_stage_column(connection)
        connection.execute(
            f"insert into {AUDIT_TABLE} ({', '.join(_COLUMNS)}) values ({placeholders})", values
        )
    finally:
        connection.close()
    log.info("recorded validation run %s (success=%s)", run.run_id, run.success)


def _rename_stage_column(connection) -> None:
    """Warehouses written before the checkpoints had their own word call the column ``stage``;
    their old rows keep the old checkpoint names (raw, staging, marts) as history."""
    found = connection.execute(
        "select count(*) from duckdb_columns() where schema_name = 'audit' "
        "and table_name = 'validation_runs' and column_name = 'stage'"
    ).fetchone()[0]
    if found:
        connection.execute(f"alter table {AUDIT_TABLE} rename column stage to checkpoint")


def _table_exists(connection, schema: str, table: str) -> bool:
    rows = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return rows[0][0] > 0


def _records(connection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def validation_runs(settings: Settings, period: int) -> list[dict[str, Any]]:
    """Every recorded validation run of ``period``, oldest first."""
    import duckdb

    connection = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        if not _table_exists(connection, "audit", "validation_runs"):
            return []
        rows = _records(
            connection,
            f"select * from {AUDIT_TABLE} where period = ? order by started_at, run_id",
            [int(period)],
        )
    finally:
        connection.close()
    for row in rows:
        for key in ("critical_failures", "warnings", "statistics", "failing_samples"):
            if isinstance(row.get(key), str):
                row[key] = json.loads(row[key])
        for key in ("started_at", "finished_at"):
            if row.get(key) is not None:
                row[key] = row[key].isoformat()
    return rows


def last_validation_run(settings: Settings, checkpoint: str, period: int) -> dict[str, Any] | None:
    """The latest recorded run of ``checkpoint`` in ``period`` (decoded as by
    ``validation_runs``), or ``None``."""
    import duckdb

    connection = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        if not _table_exists(connection, "audit", "validation_runs"):
            return None
        rows = _records(
            connection,
            f"select * from {AUDIT_TABLE} where checkpoint = ? and period = ? "
            "order by finished_at desc, started_at desc limit 1",
            [checkpoint, int(period)],
        )
    finally:
        connection.close()
    if not rows:
        return None
    row = rows[0]
    for key in ("critical_failures", "warnings", "statistics", "failing_samples"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def _inputs(connection, period: int) -> list[dict[str, Any]]:
    if not _table_exists(connection, "raw", "load_ledger"):
        return []
    rows = _records(
        connection,
        """
        select source, source_file, batch_sha256, outcome, rows_loaded, received_at, stored_at
        from raw.load_ledger
        where list_contains(periods, ?) and outcome in ('loaded', 'partial')
        order by received_at, batch_sha256
        """,
        [int(period)],
    )
    for row in rows:
        if row.get("received_at") is not None:
            row["received_at"] = row["received_at"].isoformat()
    return rows


def _framework_versions(connection, period: int) -> list[dict[str, Any]]:
    if not _table_exists(connection, "registry", "frameworks"):
        return []
    return _records(
        connection,
        """
        select block, framework_version, valid_from, valid_to
        from registry.frameworks
        where ? between valid_from and valid_to
        order by block
        """,
        [int(period)],
    )


def _bundle_files(manifest: dict[str, Any]) -> list[dict[str, str]]:
    """The manifest's files as ``[{"path", "sha256"}]`` (a list of records or a name → sha map)."""
    files = manifest.get("files") or []
    if isinstance(files, dict):
        return [
            {"path": name, "sha256": value if isinstance(value, str) else value.get("sha256", "")}
            for name, value in sorted(files.items())
        ]
    out = []
    for entry in files:
        name = entry.get("path") or entry.get("name") or entry.get("file") or ""
        out.append({"path": str(name), "sha256": str(entry.get("sha256", ""))})
    return out


def audit_report(settings: Settings, period: int) -> dict[str, Any]:
    """The trail of the latest publication of ``period`` (and every validation run since)."""
    import duckdb

    period = int(period)
    manifest_path = settings.out / str(period) / "manifest.json"
    manifest: dict[str, Any] | None = None
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not settings.warehouse.exists():
        raise FileNotFoundError(f"warehouse {settings.warehouse} does not exist")
    connection = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        inputs = _inputs(connection, period)
        frameworks = _framework_versions(connection, period)
    finally:
        connection.close()
    runs = validation_runs(settings, period)
    gating_ids = [r.get("run_id") for r in (manifest or {}).get("validation_runs", [])]
    for run in runs:
        run["gated_publication"] = run["run_id"] in gating_ids
    missing = [run_id for run_id in gating_ids if run_id not in {r["run_id"] for r in runs}]
    return {
        "period": period,
        "looked_in": str(manifest_path),
        "publication": None
        if manifest is None
        else {
            "manifest": str(manifest_path),
            "built_at": manifest.get("built_at") or manifest.get("generated_at"),
            "framework_version": manifest.get("framework_version"),
            "code_version": manifest.get("code_version"),
            "bundle_sha256": manifest.get("bundle_sha256"),
            "files": _bundle_files(manifest),
            "inputs": manifest.get("inputs"),
            "validation_run_ids": gating_ids,
            "validation_runs_missing_from_warehouse": missing,
        },
        "inputs": inputs,
        "framework_versions": frameworks,
        "validation_runs": runs,
    }


def _render_council(council: dict[str, Any] | None) -> list[str]:
    """The council's approvals of the current release, as ``pipeline.jobs.verify_release``
    found them (the check lives in publish.council; this only prints it)."""
    if not council or council.get("release") is None:
        return []
    lines = ["", f"Council (hội đồng) — release {council['release']}:"]
    verdict = "OK" if council.get("ok") else "REFUSED"
    required = "required" if council.get("required") else "not required"
    lines.append(
        f"  approvals counted: {len(council.get('counted') or [])} of quorum "
        f"{council.get('quorum')} ({required}): {verdict}"
    )
    for who in council.get("counted") or []:
        lines.append(f"    counted      {who}")
    for entry in council.get("not_counted") or []:
        lines.append(f"    not counted  {entry['approver']}: {entry['reason']}")
    for problem in council.get("problems") or []:
        lines.append(f"  REFUSED: {problem}")
    return lines


def no_publication(report: dict[str, Any]) -> str | None:
    """What `dti audit` says when the period has no bundle where it looked (it then exits 1):
    an auditor with the wrong ``--out`` must not read "no publication" as a fact."""
    if report["publication"] is not None:
        return None
    return (
        f"không tìm thấy bản công bố nào của kỳ {report['period']}: không có manifest.json tại "
        f"{report['looked_in']}. Hãy chỉ thư mục công bố bằng --out (hoặc DTI_OUT); nếu kỳ này "
        f"chưa được công bố, chạy dti run --period {report['period']}."
    )


def render_audit(report: dict[str, Any]) -> str:
    """The report as text an auditor reads top to bottom."""
    lines = [f"DTI audit trail — period {report['period']}"]
    publication = report["publication"]
    lines.append("")
    if publication is None:
        lines.append(f"Publication: none (no manifest.json at {report['looked_in']})")
    else:
        lines.append(f"Publication: {publication['manifest']}")
        lines.append(f"  built at: {publication.get('built_at') or '?'}")
        lines.append(f"  framework version: {publication.get('framework_version') or '?'}")
        if publication.get("code_version"):
            code = publication["code_version"]
            if isinstance(code, dict):
                code = ", ".join(f"{k} {v}" for k, v in code.items())
            lines.append(f"  code version: {code}")
        if publication.get("bundle_sha256"):
            lines.append(f"  bundle sha256: {publication['bundle_sha256']}")
        gating = [r for r in report["validation_runs"] if r.get("gated_publication")]
        verdict = (
            "all passed"
            if gating and all(r["success"] for r in gating)
            else "NOT ALL PASSED"
            if gating
            else "none recorded"
        )
        lines.append(
            f"  gated by {len(gating)} validation run(s): {verdict}"
            + (f"; Data Docs: {gating[-1]['data_docs_index']}" if gating else "")
        )
        lines.append("  bundle files (sha256):")
        for entry in publication["files"]:
            lines.append(f"    {entry['sha256']}  {entry['path']}")
        for run_id in publication["validation_runs_missing_from_warehouse"]:
            lines.append(f"  WARNING: gating run {run_id} is not in audit.validation_runs")
    lines += _render_council(report.get("council"))
    lines.append("")
    lines.append("Framework versions governing the period:")
    for row in report["framework_versions"] or [{"block": "?", "framework_version": "none"}]:
        lines.append(f"  {row['block']}: {row['framework_version']}")
    lines.append("")
    lines.append("Inputs (raw.load_ledger, sha256):")
    if not report["inputs"]:
        lines.append("  none recorded")
    for row in report["inputs"]:
        lines.append(
            f"  {row['batch_sha256']}  {row['source']}:{row['source_file']} "
            f"({row['outcome']}, {row['rows_loaded']} rows, received {row['received_at']})"
        )
    lines.append("")
    lines.append("Validation runs (oldest first; * = gated the publication):")
    if not report["validation_runs"]:
        lines.append("  none recorded")
    for run in report["validation_runs"]:
        mark = "*" if run.get("gated_publication") else " "
        outcome = "PASSED" if run["success"] else "FAILED"
        stats = run.get("statistics") or {}
        lines.append(
            f" {mark} {run['started_at']}  {run['suite']:<15} {outcome}  "
            f"{stats.get('successful_expectations', '?')}/"
            f"{stats.get('evaluated_expectations', '?')} expectations  run {run['run_id']}"
        )
        lines.append(f"      data {run['data_fingerprint']}")
        for failure in run.get("critical_failures") or []:
            lines.append(f"      CRITICAL {failure}")
        for warning in run.get("warnings") or []:
            lines.append(f"      warning  {warning}")
        if run.get("report_path"):
            lines.append(f"      report {run['report_path']}")
    return "\n".join(lines)


def relocate(connection, was: str, now: str) -> int:
    """Points the report, result and Data Docs paths of the runs recorded under the work
    folder ``was`` at the same files under ``now`` (a deployment restored into another
    folder); returns the rows moved."""
    was, now = was.rstrip("/") + "/", now.rstrip("/") + "/"
    if was == now or not _table_exists(connection, "audit", "validation_runs"):
        return 0
    moved = 0
    for column in ("report_path", "validation_result_path", "data_docs_index"):
        row = connection.execute(
            f"""update {AUDIT_TABLE} set {column} = ? || {column}[length(?) + 1:]
                where starts_with({column}, ?)""",
            [now, was, was],
        ).fetchone()
        moved = max(moved, int(row[0]) if row else 0)
    return moved
