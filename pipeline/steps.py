"""The pipeline's steps. `dti run`, each Airflow task and the tests call these functions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dti.settings import Settings

log = logging.getLogger(__name__)


def ingest_sources(settings: Settings, sources: tuple[str, ...] = ("inbox",)):
    """Loads new submissions from each source into ``raw.*``; returns the ingest report."""
    import ingest

    return ingest.ingest_sources(settings, sources)


def _ensure_raw_tables(settings: Settings) -> None:
    """dbt's source is ingest's ``raw`` schema: it exists (empty) before dbt reads it, even
    before the first ingest."""
    from ingest import open_warehouse

    open_warehouse(settings).close()


def seed_registry(settings: Settings) -> None:
    """Loads the framework registry (dbt seeds) into the ``registry`` schema."""
    from dbt_project.runner import dbt_seed

    _ensure_raw_tables(settings)
    dbt_seed(settings)


def build_models(settings: Settings, period: int | None = None, full_refresh: bool = False) -> None:
    """Builds and tests every dbt model (staging, intermediate, marts)."""
    from dbt_project.runner import dbt_build

    _ensure_raw_tables(settings)
    dbt_build(settings, period=period, full_refresh=full_refresh)


def validate_checkpoint(settings: Settings, checkpoint: str, period: int):
    """Runs the Great Expectations suite of one checkpoint; raises ``GateFailed`` on a critical failure."""
    from expectations.gate import validate_checkpoint as _validate

    return _validate(settings, checkpoint, period)


def document_models(settings: Settings) -> Path | None:
    """dbt's documentation of the models as built (one offline page), or None when
    ``DTI_DBT_DOCS`` is off. One page serves every period published after the same build."""
    if not settings.dbt_docs:
        return None
    from dbt_project.runner import dbt_docs

    return dbt_docs(settings)


def publish_bundle(
    settings: Settings,
    period: int,
    validation_runs: list | None = None,
    publication: str = "final",
    approval_required: bool | None = None,
    model_docs: Path | None = None,
) -> Path:
    """Writes the next release of ``period`` and returns ``OUT/<period>`` when it is current,
    the draft's folder when it waits for approval (``DTI_PUBLISH_REQUIRES_APPROVAL``).

    ``model_docs`` (``document_models``) goes into the new release's audit folder, and the
    Data Docs index links it: the validation runs and the models of a release side by side.
    """
    from publish.bundle import write_bundle

    bundle_dir = write_bundle(
        settings,
        period,
        validation_runs=validation_runs or [],
        publication=publication,
        approval_required=approval_required,
        model_docs=model_docs,
    )
    if model_docs is not None:
        _link_model_docs(settings, period, bundle_dir)
    return bundle_dir


def _link_model_docs(settings: Settings, period: int, bundle_dir: Path) -> None:
    """The Data Docs index links the dbt docs of the release ``bundle_dir`` holds (a release
    with the same results as before keeps the docs it was published with)."""
    from expectations.data_docs import link_model_docs
    from expectations.gate import data_docs_index
    from publish.bundle import AUDIT, MODEL_DOCS
    from publish.releases import read_manifest, release_info

    release = bundle_dir.resolve()
    manifest = read_manifest(release) or {}
    for item in manifest.get(AUDIT) or []:
        if item["path"] == MODEL_DOCS:
            link_model_docs(
                data_docs_index(settings).parent,
                period=period,
                release=int(release_info(manifest).get("number") or 0),
                page=release / item["path"],
            )


@dataclass
class RunSummary:
    period: int
    bundle_dir: Path
    ingest_report: object
    validation_runs: list = field(default_factory=list)
    # wall seconds of each step, in the order run: where a run's time went
    step_seconds: dict[str, float] = field(default_factory=dict)

    def render(self, show_ranking: bool = False) -> str:
        from publish.summary import render_summary

        return render_summary(self, show_ranking=show_ranking)


def periods_with_answers(settings: Settings) -> list[int]:
    """Every period that has at least one loaded answer in ``raw``, oldest first."""
    from ingest import open_warehouse

    con = open_warehouse(settings)
    try:
        rows = con.execute(
            "select distinct period from raw.submission_rows order by period"
        ).fetchall()
    finally:
        con.close()
    return [int(r[0]) for r in rows]


def run(
    settings: Settings,
    period: int,
    full_refresh: bool = False,
    publication: str = "final",
    progress: Callable[..., None] | None = None,
) -> RunSummary:
    """One period: ingest → seed → gates → dbt build → gates → publish (see ``run_periods``)."""
    return run_periods(
        settings, [period], full_refresh=full_refresh, publication=publication, progress=progress
    )[0]


def run_periods(
    settings: Settings,
    periods: list[int] | None,
    full_refresh: bool = False,
    publication: str = "final",
    progress: Callable[..., None] | None = None,
) -> list[RunSummary]:
    """Ingest → seed → framework and raw gates → dbt build → staging and marts gates → dbt docs
    → publish, for each of ``periods`` in one warehouse (``None``: every period with answers
    after the ingest). Ingest, seed, the dbt build and its docs (``DTI_DBT_DOCS``) run once;
    gates and publishing run per period. A failed gate stops the run before any later
    period's bundle is written.

    ``progress(step, None)`` is called as each step starts and ``progress(step, seconds, ok)``
    as it ends (the CLI prints a line per step from it); with several periods a per-period
    step is named with its period (``validate_scores 2024``).
    """
    shared: dict[str, float] = {}
    several = periods is None or len(set(periods)) > 1

    def timed(
        seconds: dict[str, float], name: str, period: int | None, action: Callable, *args, **kwargs
    ):
        """Runs one step; ``period`` names a per-period step in the progress lines."""
        label = f"{name} {period}" if several and period is not None else name
        started = time.perf_counter()
        ok = False
        if progress is not None:
            progress(label, None)
        try:
            result = action(*args, **kwargs)
            ok = True
            return result
        finally:
            seconds[name] = round(time.perf_counter() - started, 3)
            log.info("step %s: %.2f s", label, seconds[name])
            if progress is not None:
                progress(label, seconds[name], ok)

    report = timed(shared, "ingest", None, ingest_sources, settings)
    if periods is None:
        periods = periods_with_answers(settings)
        if not periods:
            raise ValueError(
                "no period has answers in the warehouse: nothing to run (ingest found none)"
            )
    periods = sorted({int(p) for p in periods})
    timed(shared, "seed", None, seed_registry, settings)
    from expectations.gate import validation_session

    # one GX context for every gate of the run, and the Data Docs built once, at its end
    with validation_session(settings) as session:
        summaries = _gates_build_publish(
            settings, periods, shared, report, timed, full_refresh, publication
        )
    for summary in summaries:  # the session's one Data Docs build, after the last gate
        summary.step_seconds["data_docs"] = round(session.docs_seconds, 3)
    return summaries


def _gates_build_publish(
    settings: Settings,
    periods: list[int],
    shared: dict[str, float],
    report: object,
    timed: Callable,
    full_refresh: bool,
    publication: str,
) -> list[RunSummary]:
    per_period: dict[int, dict[str, float]] = {p: dict(shared) for p in periods}
    runs: dict[int, list] = {p: [] for p in periods}
    for p in periods:
        for checkpoint in ("framework", "submissions"):
            runs[p].append(
                timed(per_period[p], f"validate_{checkpoint}", p, validate_checkpoint, settings,
                      checkpoint, p)
            )  # fmt: skip
    build_seconds: dict[str, float] = {}
    timed(build_seconds, "build", None, build_models, settings, full_refresh=full_refresh)
    summaries = []
    model_docs: Path | None = None
    for p in periods:
        per_period[p].update(build_seconds)
        for checkpoint in ("counted_answers", "scores"):
            runs[p].append(
                timed(per_period[p], f"validate_{checkpoint}", p, validate_checkpoint, settings,
                      checkpoint, p)
            )  # fmt: skip
        if model_docs is None and settings.dbt_docs:  # once, for every period of the run
            model_docs = timed(per_period[p], "docs", None, document_models, settings)
        bundle_dir = timed(
            per_period[p],
            "publish",
            p,
            publish_bundle,
            settings,
            p,
            validation_runs=runs[p],
            publication=publication,
            model_docs=model_docs,
        )
        summaries.append(
            RunSummary(
                period=p,
                bundle_dir=bundle_dir,
                ingest_report=report,
                validation_runs=runs[p],
                step_seconds=per_period[p],
            )
        )
    return summaries


def release_drafts(settings: Settings, periods: list[int]) -> list[dict]:
    """The draft release waiting for approval in each period (``publish.releases.describe``)."""
    from publish.releases import ReleaseStore, describe

    drafts = []
    for period in periods:
        draft = ReleaseStore(settings.out, period).draft()
        if draft is not None:
            drafts.append(describe(draft))
    return drafts


def approve_release(settings: Settings, period: int, number: int, by: str) -> dict:
    """Makes draft ``number`` of ``period`` current (``dti release approve``)."""
    from publish.releases import ReleaseStore, describe

    store = ReleaseStore(settings.out, period)
    store.recover()
    if store.live_number() == number:  # approved already (e.g. from the CLI)
        return describe(store.release(number))
    return describe(store.approve(number, by=by))


def reject_release(settings: Settings, period: int, number: int, by: str, reason: str = "") -> dict:
    """Rejects draft ``number`` of ``period``; the current release stays."""
    from publish.releases import ReleaseStore, describe

    return describe(ReleaseStore(settings.out, period).reject(number, by=by, reason=reason))
