"""The pipeline's jobs, composed once: every `dti` command and every Airflow task calls these.

A job is what a person or a schedule asks for — take in what is new, transform periods,
release them, approve or reject one period's release, push it — and ``run`` is the first three
in order. The guarantees live here, so every door keeps them:

- a job that writes the warehouse holds it from its first step to its last
  (``dti.warehouse_lock``): a second one is refused at once with ``WarehouseBusy``;
- periods are validated before and after the build, and validated again before a release
  unless the same job validated them under the same lock;
- what is owed is kept in the warehouse (``pipeline.backlog``): a transform records the
  periods it validated, a release clears the ones it released;
- one decision per period's release, naming the bundle checksum that was reviewed.

``orchestration/`` translates Airflow's events and people's decisions into calls of these
functions and nothing else; ``pipeline.cli`` does the same for the `dti` command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dti.settings import Settings
from dti.vocabulary import CHECKPOINTS
from dti.warehouse_lock import WarehouseBusy, hold
from pipeline import backlog, steps

log = logging.getLogger(__name__)

__all__ = [
    "WarehouseBusy",
    "Intake",
    "Transformed",
    "Released",
    "take_in",
    "transform",
    "release",
    "run",
    "approve",
    "reject",
    "rollback",
    "council",
    "audit",
    "push",
    "releases",
    "backup",
    "restore",
]

LOADED_OUTCOMES = ("loaded", "partial")
# the checkpoints before the dbt build, and after it
BEFORE_BUILD, AFTER_BUILD = CHECKPOINTS[:2], CHECKPOINTS[2:]

Progress = Callable[..., None]


def __getattr__(name: str) -> Any:
    # the gate's failure, for the doors that translate it (Airflow: a failure without retry);
    # imported on use so that `dti --help` does not load Great Expectations
    if name == "GateFailed":
        from expectations.gate import GateFailed

        return GateFailed
    if name == "PublishError":
        from publish.releases import PublishError

        return PublishError
    if name == "CouncilError":
        from publish.council import CouncilError

        return CouncilError
    raise AttributeError(name)


class _Steps:
    """Runs the steps of one job: times each, tells ``progress``, names a per-period step with
    its period when the job covers several."""

    def __init__(self, progress: Progress | None, several: bool) -> None:
        self.progress = progress
        self.several = several

    def __call__(
        self,
        seconds: dict[str, float],
        name: str,
        period: int | None,
        action: Callable,
        *args,
        **kw,
    ) -> Any:
        label = f"{name} {period}" if self.several and period is not None else name
        started = time.perf_counter()
        ok = False
        if self.progress is not None:
            self.progress(label, None)
        try:
            result = action(*args, **kw)
            ok = True
            return result
        finally:
            seconds[name] = round(time.perf_counter() - started, 3)
            log.info("step %s: %.2f s", label, seconds[name])
            if self.progress is not None:
                self.progress(label, seconds[name], ok)


# --- take in what is new ---------------------------------------------------------------------


def configured_sources(settings: Settings) -> tuple[str, ...]:
    """The inbox always; the portal API and database when their settings are present."""
    sources = ["inbox"]
    if settings.portal_api_url:
        sources.append("portal_api")
    if settings.portal_db_dsn:
        sources.append("portal_db")
    return tuple(sources)


@dataclass
class Intake:
    """What one ingest added: the report, and the ledger rows it wrote (the ledger is the
    contract: a file already in it comes back as ``duplicate`` and is not counted)."""

    sources: list[str]
    report: Any
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
        """What an announcement of this intake carries: the periods and the batches."""
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


def _ledger_key(row: Mapping[str, Any]) -> tuple:
    return (row["sha256"], row["source"], row["source_file"], row["received_at"])


def take_in(settings: Settings, sources: Sequence[str] = ("inbox",)) -> Intake:
    """Loads what each source has that is new (`dti ingest`, the ingest task, `dti run`)."""
    from ingest import ledger

    sources = tuple(dict.fromkeys(sources))
    with hold(settings.warehouse, "dti ingest"):
        before = {_ledger_key(r) for r in ledger.read(settings.warehouse)}
        report = steps.ingest_sources(settings, sources)
        added = [r for r in ledger.read(settings.warehouse) if _ledger_key(r) not in before]
    for batch in added:
        log.info(
            "ledger: %s %s from %s: %s rows loaded, %s refused (%s)",
            batch["outcome"], batch["source_file"], batch["source"], batch["rows_loaded"],
            batch["rows_refused"], batch["reason_code"] or "ok",
        )  # fmt: skip
    return Intake(list(sources), report, added)


def periods_with_answers(settings: Settings) -> list[int]:
    with hold(settings.warehouse, "read the periods"):
        return steps.periods_with_answers(settings)


# --- transform periods -----------------------------------------------------------------------


@dataclass
class Transformed:
    """The periods a transform validated, the gate runs of each (in checkpoint order), and
    where the time went."""

    periods: list[int]
    validation_runs: dict[int, list] = field(default_factory=dict)
    step_seconds: dict[int, dict[str, float]] = field(default_factory=dict)
    answers_through: str | None = None

    def manifests(self) -> dict[str, list[dict[str, Any]]]:
        return {str(p): [r.to_manifest() for r in runs] for p, runs in self.validation_runs.items()}


def _pass_gates(
    settings: Settings,
    periods: list[int],
    checkpoints: Sequence[str],
    timed: _Steps,
    seconds: Mapping[int, dict[str, float]],
    runs: Mapping[int, list],
) -> None:
    """Each of ``checkpoints`` for each period, in order, its run appended to ``runs[p]``;
    a failed gate raises ``GateFailed`` before the next."""
    for p in periods:
        for c in checkpoints:
            runs[p].append(
                timed(seconds[p], f"validate_{c}", p, steps.validate_checkpoint, settings, c, p)
            )


def transform(
    settings: Settings,
    periods: Iterable[int] | None,
    *,
    include_owed: bool = False,
    full_refresh: bool = False,
    progress: Progress | None = None,
    _steps: _Steps | None = None,
) -> Transformed:
    """Seed the registry, pass the ``framework`` and ``submissions`` gates, build every dbt
    model once, pass ``counted_answers`` and ``scores``, for ``periods`` (``None``: the
    periods owed a validation; ``include_owed``: those and the owed ones). A failed gate
    raises ``GateFailed`` before any later step.

    When the job covers every period owed a validation, the backlog's mark moves to the
    newest answer it saw and the periods are owed a release; a job for some periods only
    leaves the mark where it is (the others are still owed) but still owes their release.
    """
    with hold(settings.warehouse, "dti transform"):
        owed, through = backlog.answers_to_validate(settings)
        wanted = set(owed) if periods is None or include_owed else set()
        chosen = sorted(wanted | {int(p) for p in periods or ()})
        timed = _steps or _Steps(progress, len(chosen) > 1)
        result = Transformed(chosen, {p: [] for p in chosen}, {p: {} for p in chosen})
        if not chosen:
            return result
        seconds, runs = result.step_seconds, result.validation_runs

        def once_for_all(name: str, action: Callable, **kwargs: Any) -> None:
            """A step every period shares (seed, build), in each period's steps in order."""
            shared: dict[str, float] = {}
            timed(shared, name, None, action, settings, **kwargs)
            for p in chosen:
                seconds[p].update(shared)

        from expectations.gate import validation_session

        once_for_all("seed", steps.seed_registry)
        with validation_session(settings):
            _pass_gates(settings, chosen, BEFORE_BUILD, timed, seconds, runs)
            once_for_all("build", steps.build_models, full_refresh=full_refresh)
            _pass_gates(settings, chosen, AFTER_BUILD, timed, seconds, runs)
        covers_owed = set(owed) <= set(chosen)
        result.answers_through = through if covers_owed else None
        backlog.validated(settings, chosen, result.answers_through)
    return result


# --- release periods -------------------------------------------------------------------------


@dataclass
class Released:
    """The release job's answer: for each period its bundle folder (the current release, or
    the draft waiting for approval), and the drafts that wait, ``describe``d."""

    periods: list[int]
    written: dict[int, Path] = field(default_factory=dict)
    drafts: list[dict[str, Any]] = field(default_factory=list)
    validation_runs: dict[int, list] = field(default_factory=dict)
    step_seconds: dict[int, dict[str, float]] = field(default_factory=dict)


def release(
    settings: Settings,
    periods: Iterable[int] | None = None,
    *,
    publication: str = "final",
    approval_required: bool | None = None,
    validated: Mapping[int, Sequence[Any]] | None = None,
    progress: Progress | None = None,
    _steps: _Steps | None = None,
) -> Released:
    """Writes the next release of each period (``None``: every period owed one), a draft
    when approval is required, and clears them from the backlog.

    ``validated`` are the gate runs of a transform that ran in this job, under the same
    lock (nothing can have changed since): without them every period is validated again
    first. A period whose results equal its latest release gets no new one.
    """
    if approval_required is None:
        approval_required = settings.approval_required
    with hold(settings.warehouse, "dti release"):
        owed = backlog.periods_to_publish(settings)
        chosen = sorted({int(p) for p in (owed if periods is None else periods)})
        timed = _steps or _Steps(progress, len(chosen) > 1)
        result = Released(chosen, step_seconds={p: {} for p in chosen})
        if not chosen:
            return result
        if validated is not None and set(chosen) <= set(validated):
            runs = {p: list(validated[p]) for p in chosen}
        else:
            # every gate once more: another transform may have rebuilt the marts since these
            # periods were validated; a passing verdict on the same data is reused (no GX run)
            from expectations.gate import validation_session

            runs = {p: [] for p in chosen}
            with validation_session(settings):
                _pass_gates(settings, chosen, CHECKPOINTS, timed, result.step_seconds, runs)
        result.validation_runs = runs
        docs_seconds: dict[str, float] = {}
        model_docs = (  # one page of the models as built, for every period of the job
            timed(docs_seconds, "docs", None, steps.document_models, settings)
            if settings.dbt_docs
            else None
        )
        for p in chosen:
            result.step_seconds[p].update(docs_seconds)
            result.written[p] = timed(
                result.step_seconds[p], "publish", p, steps.publish_bundle, settings, p,
                validation_runs=runs[p], publication=publication,
                approval_required=approval_required, model_docs=model_docs,
            )  # fmt: skip
        backlog.published(settings, {p: at for p, at in owed.items() if p in chosen})
    if approval_required:
        result.drafts = [d for d in (draft_of(settings, p) for p in chosen) if d is not None]
    return result


# --- run: take in, transform, release ----------------------------------------------------------


def run(
    settings: Settings,
    periods: Iterable[int] | None,
    *,
    full_refresh: bool = False,
    publication: str = "final",
    approval_required: bool | None = None,
    sources: Sequence[str] = ("inbox",),
    progress: Progress | None = None,
) -> list[steps.RunSummary]:
    """`dti run`: take in, transform and release ``periods`` (``None``: every period with
    answers after the intake) in one job, holding the warehouse from start to end."""
    with hold(settings.warehouse, "dti run"):
        several = periods is None or len({int(p) for p in periods}) > 1
        timed = _Steps(progress, several)
        shared: dict[str, float] = {}
        intake = timed(shared, "ingest", None, take_in, settings, sources)
        if periods is None:
            periods = steps.periods_with_answers(settings)
            if not periods:
                raise ValueError(
                    "no period has answers in the warehouse: nothing to run (ingest found none)"
                )
        from expectations.gate import validation_session

        # one GX context for every gate of the job, and the Data Docs built once, at its end
        with validation_session(settings) as session:
            transformed = transform(settings, periods, full_refresh=full_refresh, _steps=timed)
            released = release(
                settings, transformed.periods, publication=publication,
                approval_required=approval_required, validated=transformed.validation_runs,
                _steps=timed,
            )  # fmt: skip
    summaries = []
    for p in transformed.periods:
        seconds = {**shared, **transformed.step_seconds[p], **released.step_seconds[p]}
        seconds["data_docs"] = round(session.docs_seconds, 3)
        summaries.append(
            steps.RunSummary(
                period=p,
                bundle_dir=released.written[p],
                ingest_report=intake.report,
                validation_runs=transformed.validation_runs[p],
                step_seconds=seconds,
            )
        )
    return summaries


# --- one period's release: look, decide, push -----------------------------------------------


def draft_of(settings: Settings, period: int) -> dict[str, Any] | None:
    """The draft of ``period`` waiting for a decision, ``describe``d, or None; with who may
    still approve it (``approvers_owed``: the named approvers whose key is not revoked and who
    have not approved it yet, as ``{"id", "name"}``; None when anyone may) and how many
    approvals it still waits for (``approvals_missing``)."""
    from publish.releases import ReleaseStore

    store = ReleaseStore(settings.out, int(period))
    store.recover()
    draft = store.draft()
    if draft is None:
        return None
    described = _decided(settings, draft)
    named = council(settings)
    described["approvers_owed"] = (
        [
            {"id": a.approver_id, "name": a.full_name}
            for a in named.usable()
            if a.approver_id not in described["approved_by_ids"]
        ]
        if named.named
        else None
    )
    return described


def approval_prompt(draft: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, Markdown body) of the request to decide on one period's draft."""
    from publish.releases import approval_prompt as prompt

    return prompt(dict(draft))


def releases(settings: Settings, period: int) -> dict[str, Any]:
    """Every release of ``period``, the current one and the rejected drafts (`dti release
    list`); reading them never changes which release is current."""
    from publish.releases import ReleaseStore, describe

    store = ReleaseStore(settings.out, int(period))
    current = store.live_number()
    return {
        "period": int(period),
        "current": current,
        "releases": [
            {**describe(r, settings.drafts_url), "current": r.number == current}
            for r in store.releases()
        ],
        "rejected": store.rejected(),
    }


def council(settings: Settings) -> Any:
    """The council the settings name (``publish.council.Council``); a registry that cannot be
    read, or a quorum it cannot reach, is refused with the reason."""
    from publish.council import read_council

    return read_council(
        settings.approvers,
        settings.approval_quorum,
        settings.approval_signing,
        settings.approval_keys_dir,
    )


def approve(
    settings: Settings,
    period: int,
    number: int,
    *,
    by: str,
    reviewed_sha256: str,
    reason: str = "",
    key_path: Path | None = None,
) -> dict[str, Any]:
    """Records the approval of draft ``number`` of ``period`` by ``by`` (a named approver when
    ``DTI_APPROVERS`` is set; signed with ``key_path`` or the key in ``DTI_APPROVAL_KEYS_DIR``
    when ``DTI_APPROVAL_SIGNING`` is on), provided its bundle is still the one reviewed
    (``reviewed_sha256``: its ``bundle_sha256``, or a prefix of at least 12 characters). The
    draft becomes current once ``DTI_APPROVAL_QUORUM`` distinct approvers approved it.
    Approving the release already current with the same checksum, or approving twice, changes
    nothing and answers the same (a second click, the CLI after Airflow)."""
    from publish.releases import ReleaseStore

    release = ReleaseStore(settings.out, int(period)).approve(
        int(number), by=by, reviewed_sha256=reviewed_sha256, reason=reason,
        council=council(settings), key_path=key_path,
    )  # fmt: skip
    return _decided(settings, release)


def reject(
    settings: Settings,
    period: int,
    number: int,
    *,
    by: str,
    reason: str,
    reviewed_sha256: str | None = None,
    key_path: Path | None = None,
) -> dict[str, Any]:
    """Records the rejection of draft ``number`` of ``period``, by whom and why (a named
    approver, signed, as for ``approve``); the current release stays. Rejecting a draft
    already rejected changes nothing."""
    from publish.releases import ReleaseStore

    release = ReleaseStore(settings.out, int(period)).reject(
        int(number), by=by, reason=reason, reviewed_sha256=reviewed_sha256,
        council=council(settings), key_path=key_path,
    )  # fmt: skip
    return _decided(settings, release)


def _decided(settings: Settings, release: Any) -> dict[str, Any]:
    """A release after a decision, ``describe``d, with who approved it so far and how many
    approvals it still waits for (``approvals_missing``: 0 once it is current)."""
    from publish.council import distinct_approvers
    from publish.releases import DRAFT, describe

    described = describe(release, settings.drafts_url)
    approved = distinct_approvers(described.get("approvals") or [])
    waiting = described.get("status") == DRAFT
    described["approved_by_ids"] = approved
    described["approvals_missing"] = (
        max(settings.approval_quorum - len(approved), 0) if waiting else 0
    )
    return described


def verify_release(settings: Settings, period: int) -> dict[str, Any]:
    """Whether the current release of ``period`` holds its council's approvals and signatures
    (``publish.council.check_release``): ``dti audit`` reports it, ``dti publish`` refuses a
    release that fails it. None-like (``release: None``) when nothing is current."""
    from publish.council import check_release
    from publish.releases import ReleaseStore

    current = ReleaseStore(settings.out, int(period)).current()
    if current is None:
        return {"period": int(period), "release": None, "ok": True, "problems": []}
    verdict = check_release(council(settings), current.manifest)
    return {"period": int(period), "release": current.number, **verdict.as_dict()}


def audit(settings: Settings, period: int) -> dict[str, Any]:
    """`dti audit`: the trail of the latest publication (``expectations.audit``) and the check
    of its council's approvals and signatures (``council``)."""
    from expectations.audit import audit_report

    report = audit_report(settings, int(period))
    report["council"] = verify_release(settings, int(period))
    return report


def rollback(
    settings: Settings,
    period: int,
    to: int,
    *,
    by: str,
    reason: str,
    approval_required: bool | None = None,
) -> dict[str, Any]:
    """`dti release rollback`: a new release of ``period`` holding the files of approved
    release ``to``, recorded with who asked and why. Approved like any release: when approval
    is required (``DTI_PUBLISH_REQUIRES_APPROVAL``) it is a draft until ``approve`` (the CLI
    or the ``dti_approve`` run given its number and checksum), else current at once. The
    answer is the release ``describe``d, with ``made`` false when nothing had to be done (the
    release ``to`` is current already, or its rollback already waits)."""
    from publish.releases import ReleaseStore, describe

    if approval_required is None:
        approval_required = settings.approval_required
    release, made = ReleaseStore(settings.out, int(period)).rollback(
        int(to), by=by, reason=reason, approval_required=approval_required
    )
    return {**describe(release, settings.drafts_url), "made": made}


def current_releases(settings: Settings, periods: Iterable[int]) -> dict[str, dict[str, Any]]:
    """The current release of each period: its folder and number (what a bundle event says)."""
    from publish.releases import ReleaseStore

    found: dict[str, dict[str, Any]] = {}
    for period in periods:
        store = ReleaseStore(settings.out, int(period))
        found[str(period)] = {"bundle": str(store.live), "release": store.live_number()}
    return found


def push(settings: Settings, period: int, url: str | None = None, attempts: int = 5) -> Any | None:
    """Pushes the current release of ``period`` to the DTI site (`dti publish`, the push
    task); None when no site is configured."""
    if not (url or settings.publish_url):
        log.info("DTI_PUBLISH_URL is not set: bundle %s stays in %s", period, settings.out)
        return None
    from publish.council import SignatureRefused
    from publish.push import push_bundle

    verdict = verify_release(settings, int(period))
    if not verdict["ok"]:
        raise SignatureRefused(
            f"kỳ {period}: không đưa bản {verdict['release']} lên trang DTI — "
            + "; ".join(verdict["problems"])
        )

    return push_bundle(settings, int(period), url=url, attempts=attempts)


# --- checks and reminders ---------------------------------------------------------------------


def validate(settings: Settings, checkpoint: str, period: int) -> Any:
    """`dti validate`: one checkpoint validated now, even on data that passed before."""
    from expectations.gate import validate_checkpoint

    with hold(settings.warehouse, "dti validate"):
        return validate_checkpoint(settings, checkpoint, int(period), reuse=False)


def missing_answers(settings: Settings, period: int) -> Any:
    from pipeline.missing import missing_answers as missing

    with hold(settings.warehouse, "dti missing", shared=True):
        return missing(settings, int(period))


def complaints(settings: Settings, period: int, unit_code: str | None = None) -> Any:
    """`dti complaints`: a period's complaints, open, accepted, rejected or late, and the
    answers each changed (``pipeline.complaints``)."""
    from pipeline.complaints import complaints as listed

    with hold(settings.warehouse, "dti complaints", shared=True):
        return listed(settings, int(period), unit_code)


def reminders_due(settings: Settings, today: Any, days_before: Sequence[int]) -> list[int]:
    from pipeline.missing import reminders_due as due

    with hold(settings.warehouse, "dti reminders", shared=True):
        return due(settings, today, days_before)


def local_time_zone() -> Any:
    """The time zone of deadlines and reminders (Vietnam's)."""
    from pipeline.missing import VIETNAM

    return VIETNAM


# --- backup and restore ------------------------------------------------------------------------


def _checkpoint(warehouse: Path) -> None:
    """Every change written into the warehouse file itself (no WAL left beside it)."""
    from ingest.lock import connect

    con = connect(warehouse)
    try:
        con.execute("checkpoint")
    finally:
        con.close()


def backup(settings: Settings, to: Path) -> dict[str, Any]:
    """`dti backup --to DIR`: the warehouse, the raw archive, the inbox, the registry in use,
    the releases and the validation store copied into ``to`` with a manifest of sha256
    (``dti.backup``). Holds the warehouse for the whole copy: no job changes it meanwhile,
    so the copy is one moment of the deployment."""
    from dti import backup as copy

    with hold(settings.warehouse, "dti backup"):
        return copy.write(settings, Path(to), checkpoint=_checkpoint)


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """`dti restore --from DIR`: a verified backup written into the places of ``settings``
    (each empty), then the paths the warehouse keeps moved to them (the ledger's archive
    paths, the audit trail's reports). A damaged or partial backup is refused before
    anything is written."""
    from dti import backup as copy
    from expectations import audit
    from ingest import ledger
    from ingest.lock import connect

    # refused before the lock file appears beside the new warehouse: nothing is written
    verified = copy.verify(Path(source))
    copy.check_places(verified, settings)
    with hold(settings.warehouse, "dti restore"):
        manifest = copy.restore(Path(source), settings, verified)
        moved = copy.moved_paths(manifest, settings)
        con = copy.open_restored(settings.warehouse, manifest, connect)
        try:
            con.execute("begin")
            ledger.relocate_archive(con, *moved["archive"])
            audit.relocate(con, *moved["work"])
            con.execute("commit")
            con.execute("checkpoint")
        finally:
            con.close()
    return manifest
