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


def publish_bundle(settings: Settings, period: int, validation_runs: list | None = None) -> Path:
    """Writes the bundle of ``period`` into ``OUT/<period>/`` and returns that folder."""
    from publish.bundle import write_bundle

    return write_bundle(settings, period, validation_runs=validation_runs or [])


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


def run(
    settings: Settings,
    period: int,
    full_refresh: bool = False,
    progress: Callable[..., None] | None = None,
) -> RunSummary:
    """Ingest → seed → framework and raw gates → dbt build → staging and marts gates → publish.

    ``progress(step, None)`` is called as each step starts and ``progress(step, seconds, ok)``
    as it ends (the CLI prints a line per step from it).
    """
    step_seconds: dict[str, float] = {}

    def step(name: str, action: Callable, *args, **kwargs):
        started = time.perf_counter()
        ok = False
        if progress is not None:
            progress(name, None)
        try:
            result = action(*args, **kwargs)
            ok = True
            return result
        finally:
            step_seconds[name] = round(time.perf_counter() - started, 3)
            log.info("step %s: %.2f s", name, step_seconds[name])
            if progress is not None:
                progress(name, step_seconds[name], ok)

    report = step("ingest", ingest_sources, settings)
    step("seed", seed_registry, settings)
    runs = [step("validate_framework", validate_checkpoint, settings, "framework", period)]
    runs.append(step("validate_submissions", validate_checkpoint, settings, "submissions", period))
    step("build", build_models, settings, period=period, full_refresh=full_refresh)
    runs.append(
        step("validate_counted_answers", validate_checkpoint, settings, "counted_answers", period)
    )
    runs.append(step("validate_scores", validate_checkpoint, settings, "scores", period))
    bundle_dir = step("publish", publish_bundle, settings, period, validation_runs=runs)
    return RunSummary(
        period=period,
        bundle_dir=bundle_dir,
        ingest_report=report,
        validation_runs=runs,
        step_seconds=step_seconds,
    )
