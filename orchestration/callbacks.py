"""Failure and retry callbacks: say what failed, for which period, and where to look.

A note is logged and written as JSON under ``<warehouse>_work/airflow_failures/`` so the
on-call engineer (and a monitoring job) finds the report without opening the Airflow UI.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dti.settings import load_settings

log = logging.getLogger(__name__)

FAILURES_DIR = "airflow_failures"


@dataclass
class FailureNote:
    dag_id: str
    task_id: str
    run_id: str
    try_number: int | None
    period: Any
    error: str
    report: str
    log_url: str | None
    at: str

    def message(self) -> str:
        return (
            f"DTI {self.dag_id}.{self.task_id} failed (run {self.run_id}, try {self.try_number}, "
            f"period {self.period}): {self.error} — report: {self.report}"
        )


def report_path_of(exc: BaseException | None) -> str | None:
    """The validation report a failure points to (``GateFailed.run.report_path``), if any."""
    seen = 0
    while exc is not None and seen < 5:
        for candidate in (
            getattr(exc, "report_path", None),
            getattr(getattr(exc, "run", None), "report_path", None),
        ):
            if candidate:
                return str(candidate)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def describe_failure(context: dict[str, Any]) -> FailureNote:
    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    params = context.get("params") or {}
    log_url = getattr(ti, "log_url", None)
    report = report_path_of(exc) if isinstance(exc, BaseException) else None
    error = " ".join(str(exc).split()) if exc is not None else "unknown error"
    if exc is not None and isinstance(exc, BaseException):
        error = f"{type(exc).__name__}: {error}"
    return FailureNote(
        dag_id=getattr(ti, "dag_id", None) or str(context.get("dag_id", "?")),
        task_id=getattr(ti, "task_id", None) or "?",
        run_id=getattr(ti, "run_id", None) or str(context.get("run_id", "?")),
        try_number=getattr(ti, "try_number", None),
        period=params.get("period"),
        error=error[:2000],
        report=report or (f"task log {log_url}" if log_url else "the task log in the Airflow UI"),
        log_url=log_url,
        at=datetime.now(UTC).isoformat(),
    )


def failures_dir() -> Path:
    return load_settings().work_dir / FAILURES_DIR


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", part)[:120]


def on_task_failure(context: dict[str, Any]) -> None:
    """Logs what failed and writes the note next to the warehouse; never raises."""
    try:
        note = describe_failure(context)
        log.error("%s", note.message())
        folder = failures_dir()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{_safe(note.dag_id)}__{_safe(note.run_id)}__{_safe(note.task_id)}.json"
        (folder / name).write_text(
            json.dumps(asdict(note), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    except Exception:  # a callback must not hide the original failure
        log.exception("could not record the failure note")


def on_task_retry(context: dict[str, Any]) -> None:
    try:
        note = describe_failure(context)
        log.warning("will retry: %s", note.message())
    except Exception:
        log.exception("could not describe the retry")
