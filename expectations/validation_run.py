"""One run of one validation suite: what the gate returns, the audit trail records and the
bundle's manifest lists. Its own module so that the gate (which makes runs) and the audit
trail (which stores them) both read it without importing each other."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ValidationRun:
    """One run of one suite on one checkpoint and period: what the bundle's manifest links."""

    run_id: str
    suite: str
    checkpoint: str
    period: int
    success: bool
    critical_failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    report_path: str = ""
    failing_samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    validation_result_path: str = ""
    data_docs_index: str = ""
    started_at: str = ""
    finished_at: str = ""

    def to_manifest(self) -> dict[str, Any]:
        """The entry the bundle's ``manifest.json`` lists under ``validation_runs``."""
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "checkpoint": self.checkpoint,
            "period": self.period,
            "success": self.success,
            "critical_failures": list(self.critical_failures),
            "warnings": list(self.warnings),
            "statistics": dict(self.statistics),
            "data_fingerprint": self.data_fingerprint,
            "report_path": self.report_path,
            "validation_result_path": self.validation_result_path,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
