"""The pipeline's steps, one flow package each: what ``pipeline.jobs`` composes into jobs.

A step does one thing and holds nothing; the jobs hold the warehouse lock around them and
decide their order. Benchmarks and tests may call a step alone."""

from __future__ import annotations

import logging
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
    _link_model_docs(settings, period, bundle_dir)
    return bundle_dir


def _link_model_docs(settings: Settings, period: int, bundle_dir: Path) -> None:
    """The Data Docs index links the dbt docs and the statistical audit of the release
    ``bundle_dir`` holds (a release with the same results as before keeps the docs it was
    published with)."""
    from expectations.data_docs import link_model_docs
    from expectations.gate import data_docs_index
    from publish.bundle import AUDIT, MODEL_DOCS
    from publish.releases import read_manifest, release_info
    from publish.statistical_audit import PAGE as STATISTICS_PAGE

    release = bundle_dir.resolve()
    manifest = read_manifest(release) or {}
    site = data_docs_index(settings).parent
    number = int(release_info(manifest).get("number") or 0)
    for item in manifest.get(AUDIT) or []:
        if item["path"] == MODEL_DOCS:
            link_model_docs(site, period=period, release=number, page=release / item["path"])
    if any(item["path"] == STATISTICS_PAGE for item in manifest.get("files") or []):
        link_model_docs(
            site, period=period, release=number, page=release / STATISTICS_PAGE, kind="statistics"
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
