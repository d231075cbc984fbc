"""`dti explain`: from a published number back to the answers, files and rules behind it.

A roof module: it reads the marts and the raw answers of the warehouse (read-only, closed
before returning), the validation runs of ``expectations.audit`` and the bundle's
``manifest.json``, and joins them into one document per unit or per (unit, indicator).
Every figure comes from the marts, which decide it; the only arithmetic done here is the
spelled-out formula of an indicator's points (``_arithmetic``), a restatement for the reader
that is checked against the marts' points (``matches_marts``), never used in their place.

The JSON form is the contract of docs/spec/explain.md (``schema``: ``dti.explain.unit/1`` and
``dti.explain.indicator/1``); ``pipeline.explain_text`` renders the audit note.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb

from dti.settings import Settings
from expectations.audit import validation_runs
from publish.explanation import LEVEL_RULE, least_total

UNIT_SCHEMA = "dti.explain.unit/1"
INDICATOR_SCHEMA = "dti.explain.indicator/1"
CENT = Decimal("0.01")
# instants are shown in the city's time, as units write them (the offset is part of the text)
LOCAL_TIME = timezone(timedelta(hours=7))


def _local(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(LOCAL_TIME).isoformat()


class ExplainError(RuntimeError):
    """Nothing to explain: no warehouse, no marts, or no such unit or indicator."""


def _connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    if not Path(settings.warehouse).exists():
        raise ExplainError(f"warehouse {settings.warehouse} does not exist; run `dti run` first")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict[str, Any]]:
    try:
        cursor = con.execute(sql, params)
    except duckdb.CatalogException as exc:
        raise ExplainError(f"the warehouse has no marts ({exc}); run `dti run` first") from exc
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _manifest(settings: Settings, period: int) -> dict | None:
    path = Path(settings.out) / str(period) / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _gating_runs(settings: Settings, period: int) -> list[dict[str, Any]]:
    """The validation runs that gated the published bundle (manifest), else the latest run
    of each suite recorded for the period."""
    manifest = _manifest(settings, period)
    runs = validation_runs(settings, period)
    gating_ids = [r.get("run_id") for r in (manifest or {}).get("validation_runs", [])]
    if gating_ids:
        chosen = [r for r in runs if r["run_id"] in gating_ids]
        gated = True
    else:
        latest: dict[str, dict] = {}
        for run in runs:
            latest[run["suite"]] = run
        chosen, gated = list(latest.values()), False
    return [
        {
            "run_id": run["run_id"],
            "suite": run["suite"],
            "checkpoint": run.get("checkpoint"),
            "success": bool(run["success"]),
            "gated_publication": gated,
            "started_at": str(run.get("started_at")),
            "critical_failures": run.get("critical_failures") or [],
            "warnings": run.get("warnings") or [],
        }
        for run in chosen
    ]


# --- one unit --------------------------------------------------------------------------------

_UNIT_SQL = """
select period, unit_code, unit_name, block, rank_group, rank_group_name, framework_version,
    status,
    total_score, self_score, applicable_max, percent, level, level_name, rank, is_late,
    next_level, points_to_next_level, points_to_drop_level, points_to_next_rank,
    points_to_drop_rank, not_ranked_reason
from marts.fct_unit_scores
where period = ?
"""


def _neighbour(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "unit_code": row["unit_code"],
        "unit_name": row["unit_name"],
        "rank": row["rank"],
        "total_score": _dec(row["total_score"]),
        "applicable_max": _dec(row["applicable_max"]),
        "percent": _dec(row["percent"]),
    }


def _rank_context(unit: dict[str, Any], period_units: list[dict[str, Any]]) -> dict[str, Any]:
    """The rank group and the units just above, level with and just below the unit."""
    group = [
        u
        for u in period_units
        if u["block"] == unit["block"]
        and u["rank_group"] == unit["rank_group"]
        and u["rank"] is not None
    ]
    context: dict[str, Any] = {
        "rank": unit["rank"],
        "block": unit["block"],
        "rank_group": unit["rank_group"] or "",
        "rank_group_name": unit.get("rank_group_name") or "",
        # a scored unit assessed without a rank: the registry's reason (published)
        "not_ranked_reason": unit.get("not_ranked_reason"),
        "ranked_units": len(group),
        "just_above": [],
        "tied_with": [],
        "just_below": [],
    }
    if unit["rank"] is None:
        return context
    ranks = sorted({u["rank"] for u in group})
    above = [r for r in ranks if r < unit["rank"]]
    below = [r for r in ranks if r > unit["rank"]]
    key = lambda u: u["unit_code"]  # noqa: E731
    if above:
        context["just_above"] = [
            _neighbour(u) for u in sorted(group, key=key) if u["rank"] == above[-1]
        ]
    if below:
        context["just_below"] = [
            _neighbour(u) for u in sorted(group, key=key) if u["rank"] == below[0]
        ]
    context["tied_with"] = [
        _neighbour(u)
        for u in sorted(group, key=key)
        if u["rank"] == unit["rank"] and u["unit_code"] != unit["unit_code"]
    ]
    return context


def _level_context(
    unit: dict[str, Any], levels: list[dict[str, Any]], applicable_max: Decimal
) -> dict[str, Any]:
    thresholds = []
    for level in levels:
        from_pct = _dec(level["from_pct"])
        least = least_total(from_pct, applicable_max)  # the unit page prints the same
        thresholds.append(
            {
                "level": level["level"],
                "level_name": level["level_name"],
                "from_pct": from_pct,
                "from_total": least,
            }
        )
    return {
        "level": unit["level"],
        "level_name": unit["level_name"],
        "rule": LEVEL_RULE,
        "thresholds": thresholds,
    }


_INDICATOR_ROWS_SQL = """
select indicator_code, pillar_code, indicator_name, method, max_points, self_value,
    appraisal_value, scored_value, scored_stage, is_answered, is_late, self_points,
    final_points, self_submission_id, appraisal_submission_id, self_evidence_ref,
    appraisal_evidence_ref, self_note, appraiser, appraisal_reason, scored_evidence_ref,
    coalesce(evidence_required, false) as evidence_required
from marts.fct_indicator_points
where period = ? and unit_code = ?
"""


def _natural(code: str) -> tuple:
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", code))


_COMPLAINTS_SQL = """
select c.complaint_id, c.indicator_code, c.complaint_text, c.evidence_ref, c.filed_at,
    c.is_late, c.status, c.decision_reason, c.decided_by, c.decided_at,
    list(a.indicator_code order by a.indicator_code) filter (where a.indicator_code is not null)
        as indicators_changed,
    list(a.submission_id order by a.submission_id) filter (where a.submission_id is not null)
        as submissions
from marts.fct_complaints as c
left join marts.fct_complaint_answers as a on a.complaint_id = c.complaint_id
where c.period = ? and c.unit_code = ?
group by all
order by c.filed_at, c.complaint_id
"""


def _complaints(con: duckdb.DuckDBPyConnection, period: int, unit_code: str) -> list[dict]:
    """The unit's complaints (docs/spec/complaints.md), oldest first; none in marts built
    before complaints were."""
    built = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'marts' "
        "and table_name in ('fct_complaints', 'fct_complaint_answers')"
    ).fetchone()[0]
    if built < 2:
        return []
    return [
        {
            "complaint_id": c["complaint_id"],
            "indicator_code": c["indicator_code"],  # None: about the whole unit
            "text": c["complaint_text"],
            "evidence_ref": c["evidence_ref"],
            "filed_at": _local(c["filed_at"]),
            "late": bool(c["is_late"]),
            "status": c["status"],
            "reason": c["decision_reason"],
            "decided_by": c["decided_by"],
            "decided_at": _local(c["decided_at"]),
            "indicators_changed": list(c["indicators_changed"] or []),
            "submissions": list(c["submissions"] or []),
        }
        for c in _records(con, _COMPLAINTS_SQL, [period, unit_code])
    ]


def _about(complaints: list[dict], indicator_code: str) -> list[str]:
    """The ids of the complaints about one answer: on its indicator, or on the whole unit."""
    return [
        c["complaint_id"]
        for c in complaints
        if c["indicator_code"] in (None, indicator_code)
        or indicator_code in c["indicators_changed"]
    ]


def explain_unit(settings: Settings, period: int, unit_code: str) -> dict[str, Any]:
    con = _connect(settings)
    try:
        period_units = _records(con, _UNIT_SQL, [period])
        unit = next((u for u in period_units if u["unit_code"] == unit_code), None)
        if unit is None:
            known = "no unit" if not period_units else f"{len(period_units)} units"
            raise ExplainError(
                f"unit {unit_code!r} has no result for period {period} ({known} in the marts)"
            )
        levels = _records(
            con,
            """select level, level_name, sort_order, from_pct from marts.dim_levels
               where framework_version = ? and block = ? order by sort_order""",
            [unit["framework_version"], unit["block"]],
        )
        pillars = _records(
            con,
            """select pillar_code, pillar_name, sort_order, score, self_score, max_points, rank
               from marts.fct_pillar_scores where period = ? and unit_code = ?
               order by sort_order, pillar_code""",
            [period, unit_code],
        )
        indicators = _records(con, _INDICATOR_ROWS_SQL, [period, unit_code])
        complaints = _complaints(con, period, unit_code)
    finally:
        con.close()
    order = {p["pillar_code"]: p["sort_order"] for p in pillars}
    indicators.sort(
        key=lambda i: (order.get(i["pillar_code"], 1 << 30), _natural(i["indicator_code"]))
    )
    applicable_max = _dec(unit["applicable_max"])
    answers = [
        {
            "indicator_code": i["indicator_code"],
            "pillar_code": i["pillar_code"],
            "indicator_name": i["indicator_name"],
            "method": i["method"],
            "max_points": _dec(i["max_points"]),
            "self_value": i["self_value"],
            "appraisal_value": i["appraisal_value"],
            "counted_stage": i["scored_stage"],
            "counted_value": i["scored_value"],
            "self_points": _dec(i["self_points"]),
            "final_points": _dec(i["final_points"]),
            "late": bool(i["is_late"]),
            "self_submission_id": i["self_submission_id"],
            "appraisal_submission_id": i["appraisal_submission_id"],
            "self_evidence_ref": i["self_evidence_ref"],
            "appraisal_evidence_ref": i["appraisal_evidence_ref"],
            "self_note": i["self_note"],
            "appraiser": i["appraiser"],
            "appraisal_reason": i["appraisal_reason"],
            # docs/spec/submissions.md §1.1: the registry requires evidence, and the counted
            # answer cites none (the `required_evidence_missing` warning lists the same rows)
            "evidence_required": bool(i["evidence_required"]),
            "evidence_missing": bool(i["evidence_required"])
            and i["scored_stage"] is not None
            and not (i["scored_evidence_ref"] or "").strip(),
            # docs/spec/complaints.md: the complaints about this answer (or the whole unit)
            "complaints": _about(complaints, i["indicator_code"]),
        }
        for i in indicators
    ]
    return {
        "schema": UNIT_SCHEMA,
        "period": period,
        "unit_code": unit["unit_code"],
        "unit_name": unit["unit_name"],
        "block": unit["block"],
        "framework_version": unit["framework_version"],
        "status": unit["status"],
        "total_score": _dec(unit["total_score"]),
        "self_score": _dec(unit["self_score"]),
        "applicable_max": applicable_max,
        "percent": _dec(unit["percent"]),
        "late": bool(unit["is_late"]),
        "level": _level_context(unit, levels, applicable_max),
        "rank": _rank_context(unit, period_units),
        "margins": {
            "next_level": unit["next_level"],
            "points_to_next_level": _dec(unit["points_to_next_level"]),
            "points_to_drop_level": _dec(unit["points_to_drop_level"]),
            "points_to_next_rank": _dec(unit["points_to_next_rank"]),
            "points_to_drop_rank": _dec(unit["points_to_drop_rank"]),
        },
        "pillars": [
            {
                "pillar_code": p["pillar_code"],
                "pillar_name": p["pillar_name"],
                "score": _dec(p["score"]),
                "self_score": _dec(p["self_score"]),
                "max_points": _dec(p["max_points"]),
                "rank": p["rank"],
            }
            for p in pillars
        ],
        "answers": answers,
        "complaints": complaints,
        "validation_runs": _gating_runs(settings, period),
    }


# --- one indicator of one unit ---------------------------------------------------------------

_HISTORY_SQL = """
select rows.stage, rows.value, rows.is_answered, rows.value_number, rows.value_boolean,
    rows.evidence_ref, rows.note, rows.appraiser, rows.reason, rows.submitted_at, rows.submission_id, rows.source, rows.batch_sha256,
    rows.source_row, rows.loaded_at, ledger.source_file,
    coalesce(rows.stage = 'self' and rows.submitted_at > periods.deadline, false) as is_late,
    coalesce(periods.late_self_answers_count, true) as late_self_answers_count
from staging.stg_portal__submission_rows as rows
left join raw.load_ledger as ledger on rows.batch_sha256 = ledger.batch_sha256
left join staging.stg_registry__periods as periods on rows.period = periods.period
where rows.period = ? and rows.unit_code = ? and rows.indicator_code = ?
order by rows.submitted_at, rows.submission_id, rows.loaded_at
"""

_COUNTED_SQL = """
select stage, submission_id, submitted_at
from intermediate.int_answers_latest
where period = ? and unit_code = ? and indicator_code = ?
"""


def _arithmetic(
    indicator: dict[str, Any], tiers: list[tuple[Decimal, Decimal]], answer: dict
) -> dict:
    """The formula from the counted value to points, spelled out (docs/spec/results.md §3)."""
    method, max_points = indicator["method"], _dec(indicator["max_points"])
    n = _number
    steps: dict[str, Any] = {"method": method, "value": answer["value"], "max_points": max_points}
    number = _dec(answer["value_number"])
    if not answer["is_answered"]:
        steps.update(formula="not answered → 0", exact=Decimal(0))
    elif method == "boolean":
        truth = answer["value_boolean"]
        steps.update(
            reading=truth,
            formula=f"{'true' if truth else 'false'} → {n(max_points) if truth else 0}",
            exact=max_points if truth else Decimal(0),
        )
    elif method == "ratio":
        target = _dec(indicator["target"]) or Decimal(100)
        capped = number >= target
        exact = max_points if capped else max_points * number / target
        steps.update(
            reading=number,
            target=target,
            formula=(
                f"{n(number)} ≥ target {n(target)} → max {n(max_points)}"
                if capped
                else f"{n(max_points)} × {n(number)} / {n(target)} = {n(exact)}"
            ),
            exact=exact,
        )
    elif method == "tiers":
        reached = [(bound, pts) for bound, pts in tiers if bound <= number]
        exact = reached[-1][1] if reached else Decimal(0)
        steps.update(
            reading=number,
            tiers=[{"from": bound, "points": pts} for bound, pts in tiers],
            formula=(
                f"{n(number)} ≥ {n(reached[-1][0])} → {n(exact)}"
                if reached
                else f"{n(number)} below every tier → 0"
            ),
            exact=exact,
        )
    elif method == "points":
        steps.update(reading=number, formula=f"points given: {n(number)}", exact=number)
    steps["rounding"] = "half_up_2"
    steps["points"] = steps["exact"].quantize(CENT, rounding=ROUND_HALF_UP)
    steps["exact"] = n(steps["exact"])
    return steps


def explain_indicator(
    settings: Settings, period: int, unit_code: str, indicator_code: str
) -> dict[str, Any]:
    con = _connect(settings)
    try:
        (points,) = _records(
            con,
            _INDICATOR_ROWS_SQL + " and indicator_code = ?",
            [period, unit_code, indicator_code],
        ) or [None]
        if points is None:
            raise ExplainError(
                f"indicator {indicator_code!r} does not apply to unit {unit_code!r} in {period} "
                "(or the unit has no result): see `dti explain` without --indicator"
            )
        (indicator,) = _records(
            con,
            """select d.indicator_code, d.indicator_name, d.pillar_code, d.method,
                   d.max_points, d.target, d.tiers, d.applies_to
               from marts.dim_indicators as d
               inner join marts.fct_unit_scores as u
                   on u.framework_version = d.framework_version and u.block = d.block
               where u.period = ? and u.unit_code = ? and d.indicator_code = ?""",
            [period, unit_code, indicator_code],
        )
        history = _records(con, _HISTORY_SQL, [period, unit_code, indicator_code])
        (period_row,) = _records(
            con,
            "select deadline, late_self_answers_count from staging.stg_registry__periods "
            "where period = ?",
            [period],
        ) or [None]
        counted = {
            r["stage"]: (r["submission_id"], r["submitted_at"])
            for r in _records(con, _COUNTED_SQL, [period, unit_code, indicator_code])
        }
        complaints = [
            c
            for c in _complaints(con, period, unit_code)
            if c["complaint_id"] in _about([c], indicator_code)
        ]
    finally:
        con.close()
    tiers = sorted(
        (Decimal(bound), Decimal(pts))
        for bound, pts in (t.split(":") for t in (indicator["tiers"] or "").split("|") if t.strip())
    )
    scored_stage = points["scored_stage"]
    answers = []
    for row in history:
        is_counted = counted.get(row["stage"]) == (row["submission_id"], row["submitted_at"])
        if is_counted and row["stage"] == scored_stage:
            why = "counts"
        elif is_counted and row["stage"] == "self" and scored_stage == "appraisal":
            why = "overridden_by_appraisal"
        elif is_counted and not row["is_answered"]:
            why = "blank_not_counted" if row["stage"] == "appraisal" else "blank_withdraws"
        elif is_counted:
            why = "counts"
        elif row["is_late"] and not row["late_self_answers_count"]:
            why = "late_not_counted"
        else:
            why = "superseded"
        answers.append(
            {
                "stage": row["stage"],
                "value": row["value"],
                "evidence_ref": row["evidence_ref"],
                "note": row["note"],
                "appraiser": row["appraiser"],
                "reason": row["reason"],
                "submitted_at": _local(row["submitted_at"]),
                "late": bool(row["is_late"]),
                "submission_id": row["submission_id"],
                "source": row["source"],
                "source_file": row["source_file"],
                "batch_sha256": row["batch_sha256"],
                "source_row": row["source_row"],
                "loaded_at": _local(row["loaded_at"]),
                "latest_of_stage": is_counted,
                "why": why,
                # the complaint whose accepted decision brought this appraisal answer
                "complaint_id": next(
                    (
                        c["complaint_id"]
                        for c in complaints
                        if row["submission_id"] in c["submissions"]
                    ),
                    None,
                ),  # fmt: skip
                "_row": row,
            }
        )
    deciding = next(
        (a for a in answers if a["why"] == "counts" and a["stage"] == scored_stage), None
    )
    arithmetic = None
    if deciding is not None:
        arithmetic = _arithmetic(indicator, tiers, deciding["_row"])
        arithmetic["matches_marts"] = arithmetic["points"] == _dec(points["final_points"])
    for answer in answers:
        del answer["_row"]
    return {
        "schema": INDICATOR_SCHEMA,
        "period": period,
        "unit_code": unit_code,
        "indicator": {
            "indicator_code": indicator["indicator_code"],
            "indicator_name": indicator["indicator_name"],
            "pillar_code": indicator["pillar_code"],
            "method": indicator["method"],
            "max_points": _dec(indicator["max_points"]),
            "target": _dec(indicator["target"]),
            "tiers": [{"from": bound, "points": pts} for bound, pts in tiers],
            "applies_to": indicator["applies_to"],
        },
        "deadline": _local(period_row["deadline"]) if period_row else None,
        "late_self_answers_count": period_row is None
        or period_row["late_self_answers_count"] is not False,
        "answers": answers,
        "counted_stage": scored_stage,
        "self_points": _dec(points["self_points"]),
        "final_points": _dec(points["final_points"]),
        "arithmetic": arithmetic,
        "complaints": complaints,
    }


# --- the JSON form ---------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    """A decimal exactly as it is (``33.335``, ``264``), never through ``float``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def to_json(value: Any, indent: int = 2, level: int = 0) -> str:
    """The JSON text of an explanation: keys in their order, numbers exact, no floats."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return _number(value)
    pad, end = " " * (indent * (level + 1)), " " * (indent * level)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent, level + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [pad + to_json(v, indent, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    raise TypeError(f"cannot write {type(value).__name__} in an explanation: {value!r}")
