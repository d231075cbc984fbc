"""What each checkpoint validates, without Great Expectations: its suite, its batch and every
table its rules read.

Kept apart from ``suites`` (which builds GX objects and so imports GX, ~7 s cold) because a
run decides from these alone whether a checkpoint's data changed since its last passing
validation (``gate``): a run that finds nothing new never imports GX.
"""

from __future__ import annotations

from dataclasses import dataclass

from dti.settings import Settings

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class Checkpoint:
    """What one checkpoint validates: its suite and the batch (a SQL query with ``{period}``)."""

    name: str
    suite_name: str
    batch_query: str
    # every table the suite's rules read, fingerprinted with the run: (table, periods), where
    # periods is WHOLE (every row), PERIOD (the period's rows) or WITH_PREVIOUS (the period's
    # and the one before: the rules that compare with last period). Equal fingerprints mean the
    # rules saw the same rows, which is what lets the gate reuse a passing verdict;
    # tests/expectations/test_suites.py checks that the list names every table a rule reads.
    tables: tuple[tuple[str, str], ...]

    def batch_sql(self, period: int) -> str:
        return self.batch_query.format(period=int(period))


WHOLE, PERIOD, WITH_PREVIOUS = "whole", "period", "with_previous"


def rows_of(periods: str, period: int) -> str:
    """The ``where`` clause that selects what a fingerprint covers of one table."""
    if periods == PERIOD:
        return f"where period = {int(period)}"
    if periods == WITH_PREVIOUS:
        return f"where period between {int(period) - 1} and {int(period)}"
    return ""


CHECKPOINT_DEFINITIONS: dict[str, Checkpoint] = {
    "framework": Checkpoint(
        name="framework",
        suite_name="framework",
        # the whole registry is checked; the period under validation rides along with each row
        batch_query=(
            "select cast({period} as integer) as validated_period, f.* from registry.frameworks f"
        ),
        tables=(
            ("registry.frameworks", WHOLE),
            ("registry.levels", WHOLE),
            ("registry.pillars", WHOLE),
            ("registry.indicators", WHOLE),
            ("registry.units", WHOLE),
            ("registry.periods", WHOLE),
            ("registry.unit_lineage", WHOLE),
            ("registry.former_units", WHOLE),
            # read for the code grammar only (dti.codes.CODE_COLUMNS)
            ("registry.rank_groups", WHOLE),
            ("registry.unit_rank_groups", WHOLE),
            ("registry.unit_locations", WHOLE),
        ),
    ),
    "submissions": Checkpoint(
        name="submissions",
        suite_name="submissions",
        batch_query="select * from raw.submission_rows where period = {period}",
        tables=(
            ("raw.submission_rows", PERIOD),
            ("raw.load_ledger", WHOLE),
            ("registry.frameworks", WHOLE),
            ("registry.indicators", WHOLE),
            ("registry.periods", WHOLE),
            ("registry.units", WHOLE),
            ("registry.value_words", WHOLE),
        ),
    ),
    "counted_answers": Checkpoint(
        name="counted_answers",
        suite_name="counted_answers",
        batch_query="select * from intermediate.int_answers_latest where period = {period}",
        tables=(
            ("intermediate.int_answers_latest", PERIOD),
            ("intermediate.int_indicator_points", PERIOD),
            ("raw.submission_rows", PERIOD),
            ("registry.periods", WHOLE),
            ("meta.last_build", WHOLE),
        ),
    ),
    "scores": Checkpoint(
        name="scores",
        suite_name="scores",
        batch_query="select * from marts.fct_unit_scores where period = {period}",
        tables=(
            ("marts.fct_unit_scores", WITH_PREVIOUS),
            ("marts.fct_pillar_scores", WITH_PREVIOUS),
            ("marts.fct_indicator_points", PERIOD),
            ("marts.fct_unit_previous", PERIOD),
            ("marts.fct_unit_predecessor_scores", PERIOD),
            ("marts.fct_complaints", PERIOD),
            ("registry.frameworks", WHOLE),
            ("registry.levels", WHOLE),
            ("registry.units", WHOLE),
            # who is assessed without a rank (staging: the optional columns resolved)
            ("staging.stg_registry__unit_rank_groups", WHOLE),
            ("staging.stg_registry__rank_groups", WHOLE),
        ),
    ),
}


def anomaly_thresholds(settings: Settings | None = None) -> dict[str, str]:
    """The tokens of the anomaly warnings and their values (the defaults without settings)."""
    settings = settings or Settings()
    return {
        "__APPRAISAL_GAP_POINTS__": str(int(settings.anomaly_appraisal_gap_points)),
        "__IDENTICAL_MIN_ANSWERS__": str(int(settings.anomaly_identical_min_answers)),
        "__PILLAR_MOVE_POINTS__": str(int(settings.anomaly_pillar_move_points)),
    }
