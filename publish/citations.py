"""Why each number of a release moved: the complaint and decision, or the appraisal, behind it.

A release that replaces another (the final result after the preliminary one) lists in its
manifest, for every unit whose score or status changed, the answers whose points changed
(``answer_changes``): before and after as the replaced release's ``answers_<block>.csv`` and
the marts give them, and their cause — ``complaint`` (an accepted complaint's corrected answer,
with the council's decision), ``appraisal`` (the council's own correction) or nothing. A change
with neither is **unexplained**: counted in ``unexplained_changes``, flagged in the approval
prompt (docs/spec/complaints.md §6). A unit whose rank alone moved changed no answer of its
own (others moved around it) and needs no citation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from publish.answers import answers_paths

# what a unit's own answers move; rank and level follow from them (and from the others)
OWN_NUMBERS = ("total_score", "status")
COMPLAINT, APPRAISAL = "complaint", "appraisal"

CAUSES_SQL = """
select p.unit_code, p.indicator_code, p.scored_stage, p.scored_value,
       cast(p.final_points as varchar), p.appraiser, p.appraisal_reason,
       c.complaint_id, c.status, c.decision_reason, c.decided_by,
       strftime(c.decided_at, '%Y-%m-%dT%H:%M:%S+07:00'), c.complaint_text, c.is_late
from marts.fct_indicator_points as p
left join {complaint_answers} as a
    on a.submission_id = p.appraisal_submission_id and p.scored_stage = 'appraisal'
left join {complaints} as c on c.complaint_id = a.complaint_id
where p.period = ? and list_contains(?, p.unit_code)
"""
# a warehouse built before complaints has no such marts: no answer is a complaint's
NO_COMPLAINTS = {
    "complaint_answers": "(select null::varchar as submission_id, null::varchar as complaint_id)",
    "complaints": """(select null::varchar as complaint_id, null::varchar as status,
        null::varchar as decision_reason, null::varchar as decided_by,
        null::timestamptz as decided_at, null::varchar as complaint_text,
        null::boolean as is_late)""",
}


def _causes(warehouse: Path, period: int, units: list[str]) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'Asia/Ho_Chi_Minh'")
        built = {
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
        tables = (
            {
                "complaint_answers": "marts.fct_complaint_answers",
                "complaints": "marts.fct_complaints",
            }
            if {"fct_complaint_answers", "fct_complaints"} <= built
            else NO_COMPLAINTS
        )
        return con.execute(CAUSES_SQL.format(**tables), [period, units]).fetchall()
    finally:
        con.close()


def _decimal(text: object) -> Decimal | None:
    try:
        return None if text in (None, "") else Decimal(str(text))
    except InvalidOperation:
        return None


def _as_sent(text: str | None) -> str | None:
    """A cell of the answers CSV without its formula guard (``publish.results.safe_cell``)."""
    if not text:
        return None
    return text[1:] if text.startswith("'") and text[1:2] in ("=", "+", "-", "@") else text


def _old_answers(release: Path, blocks: Iterable[str], units: set[str]) -> dict[tuple, dict]:
    """(unit, indicator) → the replaced release's answer row, for ``units``: DuckDB scans the
    answers files (a national block's has 500,000 rows; a Python loop would cost seconds)."""
    paths = [
        str(release / answers_paths(block)[0])
        for block in sorted(set(blocks))
        if (release / answers_paths(block)[0]).is_file()
    ]
    if not paths:
        return {}
    con = duckdb.connect()
    try:
        cursor = con.execute(
            """select unit_code, indicator_code, counted_stage, self_value, appraisal_value,
                      final_points
               from read_csv(?, header = true, all_varchar = true, union_by_name = true)
               where list_contains(?, unit_code)""",
            [paths, sorted(units)],
        )
        names = [d[0] for d in cursor.description]
        return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}
    finally:
        con.close()


def _cause(row: tuple) -> dict | None:
    (_, _, stage, _, _, appraiser, reason, complaint_id, status, decision_reason, decided_by,
     decided_at, text, late) = row  # fmt: skip
    if complaint_id is not None:
        return {
            "kind": COMPLAINT, "complaint_id": complaint_id, "decision": status,
            "reason": decision_reason, "decided_by": decided_by, "decided_at": decided_at,
            "complaint_text": text, "late": bool(late),
        }  # fmt: skip
    if stage == "appraisal":
        return {"kind": APPRAISAL, "appraiser": appraiser, "reason": reason}
    return None


def answer_changes(
    warehouse: Path,
    period: int,
    replaced: Path,
    blocks: Sequence[str],
    changes: Sequence[Mapping],
) -> list[dict]:
    """The answers behind ``changes`` (``releases.changes_between`` against the release at
    ``replaced``), each with its cause (``None``: unexplained), in unit and indicator order."""
    units = sorted(
        c["unit_code"] for c in changes if set(c.get("changed") or {}) & set(OWN_NUMBERS)
    )
    if not units:
        return []
    old = _old_answers(
        replaced, [c["block"] for c in changes if c["unit_code"] in units] or blocks, set(units)
    )
    found: list[dict] = []
    explained_units: set[str] = set()
    for row in _causes(warehouse, period, units):
        unit, indicator, stage, value, points = row[:5]
        before = old.get((unit, indicator))
        before_points = _decimal(before["final_points"]) if before else None
        after_points = _decimal(points)
        if (before_points or 0) == (after_points or 0) and (before is not None or stage is None):
            continue  # the same points (or still unanswered): nothing of this answer moved
        explained_units.add(unit)
        found.append(
            {
                "unit_code": unit,
                "indicator_code": indicator,
                "before": {
                    "stage": (before or {}).get("counted_stage") or None,
                    "value": _as_sent(
                        (before or {}).get(
                            "appraisal_value"
                            if (before or {}).get("counted_stage") == "appraisal"
                            else "self_value"
                        )
                    ),
                    "points": None if before_points is None else str(before_points),
                },
                "after": {
                    "stage": stage,
                    "value": value,
                    "points": None if after_points is None else str(after_points),
                },
                "cause": _cause(row),
            }
        )
    # a unit whose score moved although none of its answers did (the registry changed, a
    # release written before the answers files): unexplained as a whole
    for unit in units:
        if unit not in explained_units:
            found.append(
                {
                    "unit_code": unit,
                    "indicator_code": None,
                    "before": None,
                    "after": None,
                    "cause": None,
                }  # fmt: skip
            )
    return sorted(found, key=lambda c: (c["unit_code"], c["indicator_code"] or ""))


def unexplained(changes: Iterable[Mapping]) -> list[Mapping]:
    return [c for c in changes if c.get("cause") is None]


# --- what an approver reads (publish.releases.approval_prompt) ------------------------------

PROMPT_ROWS = 50


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def cause_text(cause: Mapping | None) -> str:
    """The cause of a change in Vietnamese, one line."""
    if cause is None:
        return "⚠ **không có kiến nghị hay thẩm định nào làm căn cứ**"
    if cause["kind"] == COMPLAINT:
        late = ", nộp muộn" if cause.get("late") else ""
        return (
            f"kiến nghị {cause['complaint_id']}{late} — Hội đồng "
            f"{'chấp nhận' if cause['decision'] == 'accepted' else cause['decision']} "
            f"({cause.get('decided_by') or '—'}, {cause.get('decided_at') or '—'}): "
            f"{cause.get('reason') or '—'}"
        )
    return (
        f"thẩm định của {cause.get('appraiser') or '—'}: {cause.get('reason') or 'không ghi lý do'}"
    )


def prompt_lines(draft: Mapping, replaced: object) -> list[str]:
    """The approval prompt's section on why the numbers moved (empty when none did)."""
    changes = draft.get("answer_changes") or []
    if not changes:
        return []
    flagged = unexplained(changes)
    lines = [f"### Căn cứ của các thay đổi so với bản {replaced} ({len(changes)} câu trả lời)", ""]
    if flagged:
        lines += [
            f"**Cảnh báo: {len(flagged)} thay đổi không có căn cứ** (không do kiến nghị được "
            "chấp nhận, không do thẩm định): kiểm tra trước khi phê duyệt.",
            "",
        ]
    lines += ["| Đơn vị | Chỉ số | Điểm | Căn cứ |", "|---|---|---|---|"]
    for c in changes[:PROMPT_ROWS]:
        points = (
            f"{(c['before'] or {}).get('points') or '—'} → {(c['after'] or {}).get('points') or '—'}"
            if c["indicator_code"]
            else "tổng điểm thay đổi"
        )
        lines.append(
            f"| {_cell(c['unit_code'])} | {_cell(c['indicator_code'] or '—')} | {points} | "
            f"{_cell(cause_text(c['cause']))} |"
        )
    if len(changes) > PROMPT_ROWS:
        lines.append(f"… và {len(changes) - PROMPT_ROWS} thay đổi khác (trong `manifest.json`).")
    return [*lines, ""]
