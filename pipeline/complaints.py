"""`dti complaints --period P [--unit U]`: every complaint of a period and what became of it.

Read from the marts (``marts.fct_complaints`` and ``marts.fct_complaint_answers``: the same
window, the same decisions and the same counted answers the release publishes), with a note
of the complaints ingest has taken in since the marts were last built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dti.settings import Settings

STATUSES = ("open", "accepted", "rejected")
STATUS_WORDS = {"open": "chưa quyết định", "accepted": "chấp nhận", "rejected": "bác bỏ"}


@dataclass
class Complaint:
    complaint_id: str
    unit_code: str
    unit_name: str | None
    indicator_code: str | None  # None: the whole unit
    text: str
    evidence_ref: str | None
    filed_at: str
    late: bool
    status: str  # open, accepted, rejected
    reason: str | None
    decided_by: str | None
    decided_at: str | None
    answers_changed: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ComplaintsReport:
    period: int
    unit_code: str | None
    complaints: list[Complaint]
    not_built: int = 0  # taken in by ingest, not in the marts yet (`dti run` builds them)

    @property
    def counts(self) -> dict[str, int]:
        found = {s: sum(c.status == s for c in self.complaints) for s in STATUSES}
        found["late"] = sum(c.late for c in self.complaints)
        return found

    def to_dict(self) -> dict:
        return {**asdict(self), "counts": self.counts}

    def render(self) -> str:
        who = f", đơn vị {self.unit_code}" if self.unit_code else ""
        c = self.counts
        lines = [
            f"Kiến nghị kỳ {self.period}{who}: {len(self.complaints)} — {c['open']} chưa quyết "
            f"định, {c['accepted']} chấp nhận, {c['rejected']} bác bỏ, {c['late']} nộp muộn"
        ]
        for k in self.complaints:
            about = k.indicator_code or "cả đơn vị"
            late = " [nộp muộn]" if k.late else ""
            lines.append(
                f"  {k.complaint_id}  {k.unit_code} · {about} · gửi {k.filed_at}{late} — "
                f"{STATUS_WORDS[k.status]} [{k.status}]"
            )
            lines.append(f"      {_short(k.text)}")
            if k.status != "open":
                lines.append(f"      {k.decided_by}, {k.decided_at}: {_short(k.reason or '')}")
            for a in k.answers_changed:
                counted = "" if a["is_counted"] else " (không còn là câu trả lời được tính)"
                lines.append(
                    f"      sửa {a['indicator_code']}: {a['value_before'] or '—'} → "
                    f"{a['corrected_value'] or '—'}, điểm {a['final_points']}{counted}"
                )
        if self.not_built:
            lines.append(
                f"  ({self.not_built} kiến nghị hoặc quyết định mới nhận chưa được dựng vào kho "
                "dữ liệu: chạy `dti run` để cập nhật)"
            )
        return "\n".join(lines)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _stamp(value: object) -> str | None:
    return None if value is None else value.isoformat()  # type: ignore[attr-defined]


def complaints(settings: Settings, period: int, unit_code: str | None = None) -> ComplaintsReport:
    """The complaints of ``period`` (of one unit if given), oldest first, with their answers."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'Asia/Ho_Chi_Minh'")
        built = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'marts' "
            "and table_name = 'fct_complaints'"
        ).fetchone()[0]
        if not built:
            raise LookupError(
                f"kho dữ liệu {settings.warehouse} chưa có bảng kiến nghị (marts.fct_complaints): "
                "chạy `dti run` trước"
            )
        where, params = "where period = ?", [int(period)]
        if unit_code:
            where, params = where + " and unit_code = ?", [*params, unit_code]
        rows = con.execute(
            f"""select complaint_id, unit_code, unit_name, indicator_code, complaint_text,
                       evidence_ref, filed_at, is_late, status, decision_reason, decided_by,
                       decided_at
                from marts.fct_complaints {where}
                order by filed_at, complaint_id""",
            params,
        ).fetchall()
        answers: dict[str, list[dict[str, Any]]] = {}
        cursor = con.execute(
            f"""select complaint_id, indicator_code, value_before, corrected_value,
                       self_points, final_points, is_counted, submission_id
                from marts.fct_complaint_answers {where}
                order by complaint_id, indicator_code, submission_id""",
            params,
        )
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            a = dict(zip(names, row, strict=True))
            for key in ("self_points", "final_points"):
                a[key] = None if a[key] is None else str(a[key])
            answers.setdefault(a.pop("complaint_id"), []).append(a)
        unit_filter = "and c.unit_code = ?" if unit_code else ""
        # complaints ingest has taken in but the marts do not hold yet, and decisions on
        # complaints the marts still show open
        not_built = con.execute(
            f"""select
                    (select count(*) from raw.complaint_rows as c
                     where c.period = ? {unit_filter} and c.complaint_id not in
                        (select complaint_id from marts.fct_complaints))
                  + (select count(*) from raw.decision_rows as d
                     join marts.fct_complaints as c using (complaint_id)
                     where c.period = ? {unit_filter} and c.status = 'open')""",
            params + params,
        ).fetchone()[0]
    finally:
        con.close()
    found = [
        Complaint(
            complaint_id=r[0],
            unit_code=r[1],
            unit_name=r[2],
            indicator_code=r[3],
            text=r[4],
            evidence_ref=r[5],
            filed_at=_stamp(r[6]) or "",
            late=bool(r[7]),
            status=r[8],
            reason=r[9],
            decided_by=r[10],
            decided_at=_stamp(r[11]),
            answers_changed=answers.get(r[0], []),
        )  # fmt: skip
        for r in rows
    ]
    return ComplaintsReport(int(period), unit_code, found, not_built)
