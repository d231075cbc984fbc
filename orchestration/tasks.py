"""What each DTI Airflow task does. The DAG files call these; the tests call them directly.

Every task calls one job of ``pipeline.jobs`` (the jobs `dti` calls too) with the settings of
``dti.settings.load_settings()``; this module only translates: which sources a run pulls,
which periods an asset event names, what the next asset event carries, a person's decision
into the job's arguments, and a failed gate into a failure that is not retried (the data will
not fix itself). It never reaches past the jobs into a flow package.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from dti.settings import Settings
from orchestration.callbacks import report_path_of
from pipeline import jobs

log = logging.getLogger(__name__)


def configured_sources(settings: Settings) -> tuple[str, ...]:
    return jobs.configured_sources(settings)


def ingest(settings: Settings, sources: Sequence[str]) -> jobs.Intake:
    """The intake job; its ``event_extra`` is what ``dti_raw_submissions`` carries."""
    return jobs.take_in(settings, tuple(sources))


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


# --- transform: which periods, then the transform job ---------------------------------------


def _event_periods(extra: Mapping[str, Any] | None) -> set[int]:
    if not extra:
        return set()
    periods = {int(p) for p in extra.get("periods") or []}
    if extra.get("period") is not None:
        periods.add(int(extra["period"]))
    return periods


def _rerun_periods(triggering_events: Mapping[Any, Sequence[Any]]) -> set[int]:
    """The periods a rerun or a backfill asks for again (its events carry no batch)."""
    periods: set[int] = set()
    for events in triggering_events.values():
        for event in events:
            extra = getattr(event, "extra", None) or {}
            if not extra.get("batches"):
                periods |= _event_periods(extra)
    return periods


def transform(
    settings: Settings,
    param_period: int | None,
    triggering_events: Mapping[Any, Sequence[Any]],
    full_refresh: bool,
) -> dict[str, Any]:
    """The transform job for the period of the DAG params when set; otherwise for every
    period owed a validation (the warehouse's record: an event may have been left out of this
    run's window) and every period a rerun event names. Returns what ``dti_marts_validated``
    carries. A failed gate fails the task at once (no retries) with the suite and report; a
    run with nothing owed is skipped: the run before covered its events."""
    from airflow.sdk.exceptions import AirflowSkipException

    if param_period is not None:
        periods, include_owed = {int(param_period)}, False
    else:
        periods, include_owed = _rerun_periods(triggering_events), True
    try:
        result = jobs.transform(
            settings, sorted(periods), include_owed=include_owed, full_refresh=full_refresh
        )
    except jobs.GateFailed as exc:
        raise _fail_without_retry(exc) from exc
    if not result.periods:
        raise AirflowSkipException(
            "no answer loaded since the last validation and no rerun asked for: "
            "the run before covered these events"
        )
    for period, runs in result.validation_runs.items():
        for run in runs:
            log.info("gate %s passed for %s (report %s)", run.checkpoint, period, run.report_path)
    return marts_event_extra(result.periods, result.manifests())


def marts_event_extra(
    periods: Sequence[int], runs: Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[str, Any]:
    """What the ``dti_marts_validated`` event carries: periods and their gate runs, in order."""
    return {
        "periods": [int(p) for p in periods],
        "validation_runs": {str(p): [dict(r) for r in runs.get(str(p), [])] for p in periods},
    }


# --- publish --------------------------------------------------------------------------------


def release(
    settings: Settings, param_period: int | None, approval_required: bool
) -> dict[str, Any]:
    """The release job for the period of the DAG params, else for every period owed a
    release (``pipeline.backlog``); each is validated again first. Returns the periods, the
    bundle folders and the drafts waiting for a decision (one approval run each)."""
    try:
        released = jobs.release(
            settings,
            None if param_period is None else [int(param_period)],
            approval_required=approval_required,
        )
    except jobs.GateFailed as exc:
        raise _fail_without_retry(exc) from exc
    for period, folder in released.written.items():
        log.info("release of %s written to %s", period, folder)
    return {
        "periods": released.periods,
        "written": {str(p): str(folder) for p, folder in released.written.items()},
        "drafts": [
            {"period": d["period"], "number": d["number"], "bundle_sha256": d["bundle_sha256"]}
            for d in released.drafts
        ],
    }


def approval_runs(built: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One ``dti_approve`` run per draft: its id names the period, the draft and its bundle,
    so a retried trigger finds the run it made instead of asking twice."""
    return [
        {
            "trigger_run_id": f"approve__{d['period']}__{d['number']}__{d['bundle_sha256'][:12]}",
            "conf": {
                "period": int(d["period"]),
                "release": int(d["number"]),
                "bundle_sha256": d["bundle_sha256"],
            },
        }
        for d in built.get("drafts") or []
    ]


def bundle_event_extra(settings: Settings, periods: Iterable[int]) -> dict[str, Any]:
    """What ``dti_bundle`` carries: the current release of each period, once it is current."""
    found = jobs.current_releases(settings, periods)
    return {
        "bundles": {p: r["bundle"] for p, r in found.items()},
        "releases": {p: r["release"] for p, r in found.items()},
    }


def push_bundle(settings: Settings, period: int) -> str | None:
    """Pushes the current release to the DTI site; ``None`` when no site is configured."""
    result = jobs.push(settings, int(period))
    if result is None:
        return None
    log.info("bundle %s pushed to %s", period, settings.publish_url)
    return str(result)


# --- one period's draft: the prompt, the decision -----------------------------------------


def draft_prompt(settings: Settings, conf: Mapping[str, Any]) -> dict[str, Any]:
    """What the approver of one period's draft reads. Skipped (no prompt parked) when that
    draft no longer waits: approved or rejected meanwhile, or rebuilt (its own run asks)."""
    from airflow.sdk.exceptions import AirflowSkipException

    period, number = int(conf["period"]), int(conf["release"])
    reviewed = str(conf["bundle_sha256"])
    draft = jobs.draft_of(settings, period)
    if draft is None or draft["number"] != number or draft.get("bundle_sha256") != reviewed:
        raise AirflowSkipException(
            f"kỳ {period}: bản nháp {number} ({reviewed[:12]}) không còn chờ phê duyệt"
        )
    subject, body = jobs.approval_prompt(draft)
    return {
        "period": period,
        "number": number,
        "bundle_sha256": reviewed,
        "subject": subject,
        "body": body,
        # who may answer (DraftApproval's assigned users); None: anyone who may act on the DAG
        "approvers": draft.get("approvers_owed"),
    }


def _responder(decision: Mapping[str, Any] | None) -> str:
    user = (decision or {}).get("responded_by_user") or {}
    name, uid = user.get("name"), user.get("id")
    if name and uid and str(name) != str(uid):
        return f"{name} ({uid})"
    return str(name or uid or "")


def _reason(decision: Mapping[str, Any] | None) -> str:
    params = (decision or {}).get("params_input") or {}
    return str(params.get("reason") or "").strip()


def _decider(settings: Settings, decision: Mapping[str, Any] | None) -> str:
    """Who answered, as the jobs know them: with a named council, the login the prompt was
    assigned to (FAB's ``name`` is the username, its ``id`` a row number); else as recorded
    before the council (``_responder``)."""
    user = (decision or {}).get("responded_by_user") or {}
    if jobs.council(settings).named:
        return str(user.get("name") or user.get("id") or "")
    return _responder(decision)


def next_approval_runs(
    request: Mapping[str, Any], decided: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """After an approval that leaves the draft short of its quorum: one more ``dti_approve``
    run for the same draft (its id counts the approvals so far, so a retried trigger finds the
    run it made), assigned to the approvers who have not approved yet. None otherwise."""
    if not decided or not decided.get("approvals_missing"):
        return []
    done = len(decided.get("approved_by_ids") or [])
    return [
        {
            "trigger_run_id": (
                f"approve__{request['period']}__{request['number']}__"
                f"{str(request['bundle_sha256'])[:12]}__{done + 1}"
            ),
            "conf": {
                "period": int(request["period"]),
                "release": int(request["number"]),
                "bundle_sha256": str(request["bundle_sha256"]),
            },
        }
    ]


def approve_draft(
    settings: Settings, request: Mapping[str, Any], decision: Mapping[str, Any] | None
) -> dict[str, Any]:
    """After Approve: the draft the prompt showed becomes current, approved by the responder,
    provided its bundle is still the one shown (else the task fails and says why)."""
    try:
        return jobs.approve(
            settings,
            int(request["period"]),
            int(request["number"]),
            by=_decider(settings, decision) or "airflow",
            reviewed_sha256=str(request["bundle_sha256"]),
            reason=_reason(decision),
        )
    except (jobs.PublishError, jobs.CouncilError) as exc:
        raise _fail_without_retry(exc) from exc


def reject_draft(
    settings: Settings, request: Mapping[str, Any] | None, decision: Mapping[str, Any] | None
) -> dict[str, Any]:
    """After Reject: the draft is recorded as rejected, by whom and why; the current release
    stays. Skipped when nobody decided (the prompt was never parked)."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not request or not decision:
        raise AirflowSkipException("no decision was asked for: nothing to record")
    try:
        return jobs.reject(
            settings,
            int(request["period"]),
            int(request["number"]),
            by=_decider(settings, decision) or "airflow",
            reason=_reason(decision) or "(không ghi lý do)",
            reviewed_sha256=str(request["bundle_sha256"]),
        )
    except (jobs.PublishError, jobs.CouncilError) as exc:
        raise _fail_without_retry(exc) from exc


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
    with_answers = set(jobs.periods_with_answers(settings))
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


# --- reminders before a period's deadline ---------------------------------------------------


def local_day(when: datetime | None) -> date:
    """The day in Vietnam of ``when`` (a run's data interval end), or today."""
    zone = jobs.local_time_zone()
    return (when or datetime.now(zone)).astimezone(zone).date()


def send_reminders(
    settings: Settings, days_before: Sequence[int], period: int | None, today: date
) -> list[dict[str, Any]]:
    """Sends the list of units still missing answers for ``period`` (when given) or for every
    period whose deadline is one of ``days_before`` days after ``today``; returns what was sent."""
    from orchestration.notify import reminder_notice, send

    if not settings.warehouse.exists():
        log.info("no warehouse at %s yet: nothing to remind", settings.warehouse)
        return []
    periods = (
        [int(period)] if period is not None else jobs.reminders_due(settings, today, days_before)
    )
    if not periods:
        log.info("no period's deadline is %s day(s) after %s", list(days_before), today)
    sent = []
    for p in periods:
        report = jobs.missing_answers(settings, p)
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
