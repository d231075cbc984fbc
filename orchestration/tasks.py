"""What each DTI Airflow task does. The DAG files call these; the tests call them directly.

Every step goes through ``pipeline.steps`` (the functions ``dti run`` uses) with the settings of
``dti.settings.load_settings()``; this module only adds what Airflow needs on top: which
sources a run pulls, which periods an asset event names, what the next asset event carries,
and turning a failed gate into a failure that is not retried (the data will not fix itself).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dti.settings import Settings
from ingest import ledger
from orchestration.callbacks import report_path_of
from pipeline import steps as pipeline

log = logging.getLogger(__name__)

LOADED_OUTCOMES = ("loaded", "partial")


def configured_sources(settings: Settings) -> tuple[str, ...]:
    """The inbox always; the portal API and database when their settings are present."""
    sources = ["inbox"]
    if settings.portal_api_url:
        sources.append("portal_api")
    if settings.portal_db_dsn:
        sources.append("portal_db")
    return tuple(sources)


# --- the ledger, read to learn what an ingest run added ------------------------------------


def _ledger_key(row: Mapping[str, Any]) -> tuple:
    return (row["sha256"], row["source"], row["source_file"], row["received_at"])


@dataclass
class IngestOutcome:
    sources: list[str]
    batches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def loaded(self) -> list[dict[str, Any]]:
        return [b for b in self.batches if b["outcome"] in LOADED_OUTCOMES and b["rows_loaded"]]

    @property
    def periods(self) -> list[int]:
        return sorted({int(p) for b in self.loaded for p in (b.get("periods") or [])})

    @property
    def rows_loaded(self) -> int:
        return sum(int(b["rows_loaded"] or 0) for b in self.loaded)

    def event_extra(self, reason: str) -> dict[str, Any]:
        """What the ``dti_raw_submissions`` asset event carries: the periods and the batches."""
        return {
            "reason": reason,
            "sources": self.sources,
            "periods": self.periods,
            "rows_loaded": self.rows_loaded,
            "batches": [
                {"batch_sha256": b["sha256"]}
                | {k: b.get(k) for k in ("source", "source_file", "outcome", "rows_loaded")}
                | {"periods": b.get("periods") or []}
                for b in self.loaded
            ],
        }


def ingest(settings: Settings, sources: Sequence[str]) -> IngestOutcome:
    """Runs ``pipeline.ingest_sources`` and reports the ledger rows that run added.

    The ledger is the contract (docs/architecture.md), so the outcome does not depend on the
    shape of the ingest report; a file already in the ledger comes back as ``duplicate`` and
    is not counted, which is what keeps a file announced twice from being processed twice.
    """
    before = {_ledger_key(r) for r in ledger.read(settings.warehouse)}
    report = pipeline.ingest_sources(settings, tuple(sources))
    log.info("ingest report: %s", report)
    added = [r for r in ledger.read(settings.warehouse) if _ledger_key(r) not in before]
    outcome = IngestOutcome(sources=list(sources), batches=added)
    for batch in added:
        log.info(
            "ledger: %s %s from %s: %s rows loaded, %s refused (%s)",
            batch["outcome"],
            batch["source_file"],
            batch["source"],
            batch["rows_loaded"],
            batch["rows_refused"],
            batch["reason_code"] or "ok",
        )
    return outcome


def trigger_reason(run_type: str | None, triggering_events: Mapping[Any, Sequence[Any]]) -> str:
    """Why an ingest run started: ``inbox``, ``portal``, ``sweep`` or ``manual``."""
    if run_type == "scheduled":
        return "sweep"
    names = {
        getattr(asset, "name", str(asset)) for asset, events in triggering_events.items() if events
    }
    from orchestration.assets import INBOX_NAME, PORTAL_NAME

    reasons = [r for n, r in ((INBOX_NAME, "inbox"), (PORTAL_NAME, "portal")) if n in names]
    return "+".join(reasons) or "manual"


# --- transform: which periods, then seed, gates and dbt ------------------------------------


def _event_periods(extra: Mapping[str, Any] | None) -> set[int]:
    if not extra:
        return set()
    periods = {int(p) for p in extra.get("periods") or []}
    if extra.get("period") is not None:
        periods.add(int(extra["period"]))
    return periods


def resolve_periods(
    settings: Settings, param_period: int | None, triggering_events: Mapping[Any, Sequence[Any]]
) -> dict[str, Any]:
    """What a transform validates: ``{"periods": [...], "answers_through": ...}``.

    The period of the DAG params when set (that run settles no other period, so it leaves the
    mark where it is). Otherwise every period with answers loaded since the last validation
    (``pipeline.backlog``: an event may have been left out of this run's window) and every
    period a rerun event names; ``answers_through`` is the mark the run moves to when its last
    gate passes. Raises ``AirflowSkipException`` when nothing is owed: the events were
    already covered by the run before.
    """
    if param_period is not None:
        return {"periods": [int(param_period)], "answers_through": None}
    from pipeline import backlog

    owed, through = backlog.answers_to_validate(settings)
    periods = set(owed)
    for events in triggering_events.values():
        for event in events:
            extra = getattr(event, "extra", None) or {}
            if not extra.get("batches"):  # a rerun or a backfill asks for its periods again
                periods |= _event_periods(extra)
    if not periods:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(
            "no answer loaded since the last validation and no rerun asked for: "
            "the run before covered these events"
        )
    return {"periods": sorted(periods), "answers_through": through}


def periods_to_rerun(
    settings: Settings, param_periods: Sequence[int] | None, logical_date: datetime | None
) -> list[int]:
    """The periods a ``dti_rerun`` run names that have answers in the warehouse: its
    ``periods`` param, else the year of its logical date (one period per backfill run)."""
    if param_periods:
        wanted = {int(p) for p in param_periods}
    elif logical_date is not None:
        wanted = {logical_date.year}
    else:
        raise ValueError("no period to rerun: trigger dti_rerun with the 'periods' param")
    with_answers = set(pipeline.periods_with_answers(settings))
    left_out = sorted(wanted - with_answers)
    if left_out:
        log.info("no answers in the warehouse for %s: not rerun", left_out)
    return sorted(wanted & with_answers)


def rerun_event_extra(periods: Sequence[int], run_type: str | None) -> dict[str, Any]:
    """The ``dti_raw_submissions`` event of a rerun: the periods, and no new batch."""
    return {
        "reason": "backfill" if run_type == "backfill" else "rerun",
        "periods": [int(p) for p in periods],
        "rows_loaded": 0,
        "batches": [],
    }


def _fail_without_retry(exc: Exception) -> Exception:
    from airflow.sdk.exceptions import AirflowFailException

    failure = AirflowFailException(" ".join(str(exc).split()) or type(exc).__name__)
    report = report_path_of(exc)
    if report:
        failure.report_path = report  # type: ignore[attr-defined]
    return failure


def seed_registry(settings: Settings) -> None:
    pipeline.seed_registry(settings)


def _pass_gate(settings: Settings, checkpoint: str, period: int):
    """One checkpoint's gate for one period; a failed gate fails the task at once (no
    retries) with the suite, expectation and report."""
    from expectations.gate import GateFailed

    try:
        run = pipeline.validate_checkpoint(settings, checkpoint, int(period))
    except GateFailed as exc:
        raise _fail_without_retry(exc) from exc
    log.info("gate %s passed for %s (report %s)", checkpoint, period, run.report_path)
    return run


def run_gate(
    settings: Settings, checkpoint: str, periods: Iterable[int]
) -> dict[str, dict[str, Any]]:
    """Runs one checkpoint's gate for each period; returns ``{period: run manifest}``."""
    return {str(p): _pass_gate(settings, checkpoint, p).to_manifest() for p in periods}


def build_models(settings: Settings, periods: Iterable[int], full_refresh: bool) -> None:
    """One dbt build for every period of the run: the incremental models recompute each
    (period, unit) that received answers, whichever periods they belong to."""
    if list(periods):
        pipeline.build_models(settings, full_refresh=full_refresh)


def marts_event_extra(
    periods: Sequence[int], *checkpoint_runs: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """What the ``dti_marts_validated`` event carries: periods and their gate runs, in order."""
    runs = {str(p): [dict(s[str(p)]) for s in checkpoint_runs if str(p) in s] for p in periods}
    return {"periods": [int(p) for p in periods], "validation_runs": runs}


def gate_scores(
    settings: Settings,
    resolved: Mapping[str, Any],
    *checkpoint_runs: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The last gate; when it passes the periods are validated up to the run's mark and owed
    a release. Returns what the ``dti_marts_validated`` event carries."""
    from pipeline import backlog

    periods = resolved["periods"]
    scores = run_gate(settings, "scores", periods)
    backlog.validated(settings, periods, resolved.get("answers_through"))
    return marts_event_extra(periods, *checkpoint_runs, scores)


# --- publish --------------------------------------------------------------------------------


def periods_to_publish(
    param_period: int | None,
    triggering_events: Mapping[Any, Sequence[Any]],
    owed: Iterable[int],
) -> list[int]:
    """The period of the DAG params when set; else every period owed a release
    (``pipeline.backlog``) and every period the marts events name."""
    if param_period is not None:
        return [int(param_period)]
    periods = {int(p) for p in owed}
    for events in triggering_events.values():
        for event in events:
            periods |= _event_periods(getattr(event, "extra", None))
    if not periods:
        raise ValueError(
            "no period to publish: none is owed a release and the triggering events name none; "
            "trigger the DAG with the 'period' param"
        )
    return sorted(periods)


def validate_again(settings: Settings, periods: Iterable[int]) -> dict[int, list]:
    """Every gate of each period once more, right before its release is written.

    The marts may have changed since the transform that announced them: a later transform's
    build can run between that transform's last gate and this publish (its own gates come
    after). A passing verdict on the same data is reused (no GX run), so an unchanged period
    costs a fingerprint; a rebuilt one is validated before anything of it is published.
    """
    from dti.vocabulary import CHECKPOINTS
    from expectations.gate import validation_session

    with validation_session(settings):
        return {
            int(p): [_pass_gate(settings, checkpoint, p) for checkpoint in CHECKPOINTS]
            for p in periods
        }


def write_bundle(
    settings: Settings,
    period: int,
    validation_runs: Sequence[object],
    approval_required: bool = False,
    model_docs: Path | None = None,
) -> str:
    bundle_dir = pipeline.publish_bundle(
        settings,
        int(period),
        validation_runs=list(validation_runs),
        approval_required=approval_required,
        model_docs=model_docs,
    )
    log.info("release of %s written to %s", period, bundle_dir)
    return str(bundle_dir)


def publish_owed(
    settings: Settings,
    param_period: int | None,
    triggering_events: Mapping[Any, Sequence[Any]],
    approval_required: bool,
) -> dict[str, Any]:
    """The next release of every period owed one (or of the param's period), each validated
    again first; then those periods are no longer owed. Returns ``build_releases``'s answer."""
    from pipeline import backlog

    owed = backlog.periods_to_publish(settings)
    periods = periods_to_publish(param_period, triggering_events, owed)
    built = build_releases(settings, validate_again(settings, periods), approval_required)
    backlog.published(settings, {p: at for p, at in owed.items() if p in periods})
    return built


def build_releases(
    settings: Settings, runs: Mapping[int, Sequence[object]], approval_required: bool
) -> dict[str, Any]:
    """Writes the next release of each period (a draft when approval is required) and what
    the approval prompt shows: release numbers, units that move, warnings, the draft site."""
    from publish.releases import approval_prompt

    periods = sorted(int(p) for p in runs)
    model_docs = pipeline.document_models(settings) if periods else None  # one for all periods
    written = {
        str(p): write_bundle(settings, p, runs[p], approval_required, model_docs) for p in periods
    }
    drafts = pipeline.release_drafts(settings, periods) if approval_required else []
    subject, body = approval_prompt(drafts)
    return {
        "periods": periods,
        "written": written,
        "drafts": [{"period": d["period"], "number": d["number"]} for d in drafts],
        "subject": subject,
        "body": body,
    }


def _responder(decision: Mapping[str, Any] | None) -> str:
    user = (decision or {}).get("responded_by_user") or {}
    return str(user.get("name") or user.get("id") or "airflow")


def approve_releases(
    settings: Settings, built: Mapping[str, Any], decision: Mapping[str, Any] | None
) -> list[dict]:
    """After Approve: the drafts the prompt showed become current, approved by the responder."""
    by = _responder(decision)
    return [
        pipeline.approve_release(settings, int(d["period"]), int(d["number"]), by)
        for d in built.get("drafts") or []
    ]


def reject_releases(
    settings: Settings, built: Mapping[str, Any], decision: Mapping[str, Any] | None
) -> list[dict]:
    """After Reject: the drafts are recorded as rejected; the current releases stay."""
    by = _responder(decision)
    return [
        pipeline.reject_release(
            settings, int(d["period"]), int(d["number"]), by, reason="rejected in Airflow"
        )
        for d in built.get("drafts") or []
    ]


def bundle_event_extra(settings: Settings, periods: Iterable[int]) -> dict[str, Any]:
    """What ``dti_bundle`` carries: the current release of each period, once it is current."""
    from publish.releases import ReleaseStore

    bundles, numbers = {}, {}
    for period in periods:
        store = ReleaseStore(settings.out, int(period))
        bundles[str(period)] = str(store.live)
        numbers[str(period)] = store.live_number()
    return {"bundles": bundles, "releases": numbers}


def push_bundle(settings: Settings, period: int) -> str | None:
    """Pushes the bundle to the DTI site; ``None`` when no site is configured."""
    if not settings.publish_url:
        log.info("DTI_PUBLISH_URL is not set: bundle %s stays in %s", period, settings.out)
        return None
    from publish.push import push_bundle as _push

    result = _push(settings, int(period))
    log.info("bundle %s pushed to %s", period, settings.publish_url)
    return str(result) if result is not None else settings.publish_url


# --- reminders before a period's deadline ---------------------------------------------------


def send_reminders(
    settings: Settings, days_before: Sequence[int], period: int | None, today: date
) -> list[dict[str, Any]]:
    """Sends the list of units still missing answers for ``period`` (when given) or for every
    period whose deadline is one of ``days_before`` days after ``today``; returns what was sent."""
    from orchestration.notify import reminder_notice, send
    from pipeline.missing import missing_answers, reminders_due

    if not settings.warehouse.exists():
        log.info("no warehouse at %s yet: nothing to remind", settings.warehouse)
        return []
    periods = [int(period)] if period is not None else reminders_due(settings, today, days_before)
    if not periods:
        log.info("no period's deadline is %s day(s) after %s", list(days_before), today)
    sent = []
    for p in periods:
        report = missing_answers(settings, p)
        if not report.units:
            log.info("period %s: every unit has answered; no reminder", p)
            continue
        channels = send(reminder_notice(report))
        log.info(
            "period %s: %d unit(s) missing, reminder sent by %s", p, len(report.units), channels
        )
        sent.append(
            {"period": p, "units": [u.unit_code for u in report.units], "channels": channels}
        )
    return sent
