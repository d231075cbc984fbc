"""What one ingest run did, per batch and in total."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

OUTCOMES = ("loaded", "partial", "duplicate", "refused")


@dataclass
class BatchResult:
    """One ledger entry written by this run."""

    source: str
    source_file: str
    sha256: str
    outcome: str
    reason_code: str
    reason: str
    rows_total: int = 0
    rows_loaded: int = 0
    rows_refused: int = 0
    stored_at: str = ""
    periods: list[int] = field(default_factory=list)


@dataclass
class IngestReport:
    files_seen: int = 0
    loaded: int = 0
    partial: int = 0
    duplicate: int = 0
    refused: int = 0
    rows_loaded: int = 0
    rows_refused: int = 0
    batches: list[str] = field(default_factory=list)
    periods: list[int] = field(default_factory=list)
    results: list[BatchResult] = field(default_factory=list)
    # A source that could not finish (portal unreachable, bad token): the operator must act.
    errors: list[str] = field(default_factory=list)

    def add(self, result: BatchResult) -> None:
        self.files_seen += 1
        setattr(self, result.outcome, getattr(self, result.outcome) + 1)
        self.rows_loaded += result.rows_loaded
        self.rows_refused += result.rows_refused
        self.batches.append(result.sha256)
        self.periods = sorted(set(self.periods) | set(result.periods))
        self.results.append(result)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        text = (
            f"{self.files_seen} files/batches: {self.loaded} loaded, {self.partial} partial, "
            f"{self.duplicate} duplicate, {self.refused} refused; "
            f"{self.rows_loaded} rows loaded, {self.rows_refused} rows refused"
        )
        if self.periods:
            text += f"; periods {', '.join(map(str, self.periods))}"
        return text
