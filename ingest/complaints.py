"""Complaints (kiến nghị, giải trình) and the council's decisions on them, as inbox files.

A JSON inbox file whose top level is ``{"complaints": [...]}`` or ``{"decisions": [...]}`` is
one of these instead of a submission (docs/spec/complaints.md). It goes through the inbox like
any file: archived by its bytes, recorded once in the ledger, moved to ``processed/`` or
``quarantine/`` with its reasons. Each complaint or decision is judged here, in Python (they
come by the dozen, not by the million), against the registry the ingest connection holds and
the complaints already in ``raw``; the refused ones go to ``raw.quarantine_rows`` with a reason
in Vietnamese (a unit or the council reads it). An accepted decision's corrected answers are
collected as appraisal answers citing the complaint, and judged with every other answer
(``ingest.rows``): the one home of what a valid answer is.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dti.text import printable
from ingest import rows
from ingest.refusal import FileRefused
from ingest.values import as_text

COMPLAINTS, DECISIONS = "complaints", "decisions"
ACCEPTED, REJECTED = "accepted", "rejected"
# Bounds of what one complaint may carry (docs/spec/complaints.md §1): a complaint is a letter,
# not an attachment — the evidence is cited (evidence_ref), not pasted.
MAX_TEXT_CHARS = 20_000
MAX_ID_CHARS = 100
MAX_FIELD_CHARS = 1_000
QUARANTINE_TEXT_CHARS = 2_000  # of a refused text kept in quarantine (the archive has it all)
ID_GRAMMAR = re.compile(r"[0-9A-Za-z][0-9A-Za-z._/-]*")

# Every reason code a refused complaint or decision can carry (docs/spec/complaints.md §5)
ROW_REASONS = {
    "bad_complaint_id": "mã kiến nghị trống, quá dài hoặc có ký tự không hợp lệ",
    "duplicate_complaint_id": "mã kiến nghị đã có",
    "bad_period": "kỳ đánh giá không phải một năm",
    "unknown_unit": "đơn vị không có trong danh mục",
    "unit_inactive": "đơn vị không hoạt động trong kỳ",
    "unknown_indicator": "chỉ số không thuộc bộ chỉ số của đơn vị trong kỳ",
    "no_complaint_window": "kỳ đánh giá chưa mở nhận kiến nghị",
    "window_not_open": "kiến nghị gửi trước khi kỳ mở nhận kiến nghị",
    "empty_text": "kiến nghị không có nội dung",
    "text_too_long": "nội dung kiến nghị quá dài",
    "field_too_long": "một trường quá dài",
    "bad_filed_at": "thời điểm gửi không đúng định dạng",
    "unknown_complaint": "quyết định cho một kiến nghị không có",
    "already_decided": "kiến nghị đã được quyết định",
    "bad_decision": "quyết định không phải accepted hoặc rejected",
    "missing_reason": "quyết định không có lý do",
    "missing_decided_by": "quyết định không ghi người quyết định",
    "bad_decided_at": "thời điểm quyết định không đúng định dạng",
    "accepted_without_answer": "chấp nhận mà không kèm câu trả lời đã sửa",
    "rejected_with_answer": "bác bỏ nhưng lại kèm câu trả lời đã sửa",
    "bad_answer": "câu trả lời đã sửa không đúng dạng",
}


def kind_of(document: object) -> str | None:
    """``complaints`` or ``decisions`` for a JSON document of either kind, else ``None``."""
    if isinstance(document, dict):
        for kind in (COMPLAINTS, DECISIONS):
            if kind in document:
                return kind
    return None


@dataclass
class Judged:
    """What one complaints or decisions file brings: rows to append and rows refused."""

    kind: str
    complaints: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)  # to ``incoming``
    refused: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> rows.BatchCounts:
        loaded = len(self.complaints) + len(self.decisions)
        periods = sorted({int(r["period"]) for r in (*self.complaints, *self.decisions)})
        reasons = sorted({r["reason_code"] for r in self.refused})
        return rows.BatchCounts(loaded + len(self.refused), loaded, len(self.refused), periods,
                                reasons)  # fmt: skip


def entries(document: dict, kind: str) -> list[dict]:
    """The file's complaints or decisions, each an object; else the file is refused whole."""
    items = document[kind]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FileRefused(
            "bad_json",
            f'"{kind}" phải là một danh sách các đối tượng JSON (xem docs/spec/complaints.md); '
            "sửa tệp và gửi lại",
        )
    if not items:
        raise FileRefused("empty_file", f'danh sách "{kind}" trống: tệp không có gì để ghi nhận')
    return items


def _text(value: object) -> str | None:
    text = as_text(value)
    if text is None:
        return None
    text = unicodedata.normalize("NFC", text).strip()
    return text or None


def _instant(value: str | None) -> dt.datetime | None:
    """An instant in the grammar of submitted_at (docs/spec/submissions.md §4), local time
    (+07:00) when it names no offset."""
    if value is None or not re.fullmatch(rows.TIMESTAMP_GRAMMAR, value):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=7)))
    return moment


def _shown(text: str | None, limit: int = 80) -> str:
    text = printable(text or "")
    return text if len(text) <= limit else text[:limit] + "…"


class _Registry:
    """The registry and the complaints on record, as this connection sees them."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.units = {
            u: (b, f, t)
            for u, b, f, t in con.execute(
                "select unit_code, block, active_from, active_to from reg_units"
            ).fetchall()
        }
        self.frameworks = con.execute(
            "select framework_version, block, valid_from, valid_to from reg_frameworks"
        ).fetchall()
        self.indicators = {
            (v, b, i)
            for v, b, i in con.execute(
                "select framework_version, block, indicator_code from reg_indicators"
            ).fetchall()
        }
        self.windows = {
            p: (o, c)
            for p, o, c in con.execute(
                "select period, opens_at, closes_at from reg_complaint_windows"
            ).fetchall()
        }
        # complaint_id → (period, unit_code, indicator_code); and those decided already
        self.complaints: dict[str, tuple[int, str, str | None]] = {
            c: (p, u, i)
            for c, p, u, i in con.execute(
                "select complaint_id, period, unit_code, indicator_code from raw.complaint_rows"
            ).fetchall()
        }
        self.decided = {
            r[0] for r in con.execute("select complaint_id from raw.decision_rows").fetchall()
        }

    def framework(self, block: str, period: int) -> str | None:
        for version, b, start, end in self.frameworks:
            if b == block and start <= period <= (end or 9999):
                return version
        return None


def _check_id(complaint_id: str | None) -> tuple[str, str] | None:
    if complaint_id is None:
        return "bad_complaint_id", "thiếu mã kiến nghị (complaint_id)"
    if len(complaint_id) > MAX_ID_CHARS or not ID_GRAMMAR.fullmatch(complaint_id):
        return "bad_complaint_id", (
            f'mã kiến nghị "{_shown(complaint_id)}" không hợp lệ: tối đa {MAX_ID_CHARS} ký tự, '
            "chỉ chữ không dấu, số và . _ / -"
        )
    return None


def _judge_complaint(item: dict, reg: _Registry, seen: set[str]) -> tuple[dict, tuple | None]:
    row: dict[str, Any] = {f: _text(item.get(f)) for f in (
        "complaint_id", "period", "unit_code", "indicator_code", "text", "evidence_ref",
        "filed_at",
    )}  # fmt: skip
    row["text"] = as_text(item.get("text"))  # kept as written (NFC), blanks inside it too
    if row["text"] is not None:
        row["text"] = unicodedata.normalize("NFC", row["text"])
    if bad := _check_id(row["complaint_id"]):
        return row, bad
    cid = row["complaint_id"]
    if cid in reg.complaints or cid in seen:
        where = "trong tệp này" if cid in seen else "đã được ghi nhận trước đây"
        return row, ("duplicate_complaint_id", (
            f'mã kiến nghị "{cid}" {where}: mỗi kiến nghị một mã; muốn bổ sung thì gửi '
            "một kiến nghị mới với mã mới"
        ))  # fmt: skip
    if row["period"] is None or not re.fullmatch(r"[0-9]{4}", row["period"]):
        return row, ("bad_period", (
            f'kỳ đánh giá "{_shown(row["period"])}" không phải một năm (ví dụ 2023)'
        ))  # fmt: skip
    period = int(row["period"])
    unit = reg.units.get(row["unit_code"])
    if unit is None:
        return row, ("unknown_unit", (
            f'đơn vị "{_shown(row["unit_code"])}" không có trong danh mục đơn vị (units.csv); '
            "sửa unit_code"
        ))  # fmt: skip
    block, active_from, active_to = unit
    if not active_from <= period <= (active_to or 9999):
        return row, ("unit_inactive", (
            f"đơn vị {row['unit_code']} không hoạt động trong kỳ {period}"
        ))  # fmt: skip
    if row["indicator_code"] is not None:
        version = reg.framework(block, period)
        if (version, block, row["indicator_code"]) not in reg.indicators:
            return row, ("unknown_indicator", (
                f'chỉ số "{_shown(row["indicator_code"])}" không thuộc bộ chỉ số {version or "—"} '
                f"của khối {block} năm {period}; để trống indicator_code nếu kiến nghị về cả "
                "đơn vị"
            ))  # fmt: skip
    if row["text"] is None or not row["text"].strip():
        return row, ("empty_text", "kiến nghị không có nội dung (text); ghi rõ điều kiến nghị")
    if len(row["text"]) > MAX_TEXT_CHARS:
        return row, ("text_too_long", (
            f"nội dung dài {len(row['text']):,} ký tự, quá giới hạn {MAX_TEXT_CHARS:,}; tóm tắt "
            "lại và dẫn tài liệu kèm theo ở evidence_ref"
        ))  # fmt: skip
    if len(row["evidence_ref"] or "") > MAX_FIELD_CHARS:
        return row, ("field_too_long", (
            f"evidence_ref dài quá {MAX_FIELD_CHARS:,} ký tự; dẫn tên hoặc đường dẫn tài liệu"
        ))  # fmt: skip
    filed = _instant(row["filed_at"])
    if filed is None:
        return row, ("bad_filed_at", (
            f'thời điểm gửi (filed_at) "{_shown(row["filed_at"])}" không đúng định dạng '
            "ISO-8601, ví dụ 2024-02-10T09:00:00+07:00"
        ))  # fmt: skip
    window = reg.windows.get(period)
    if window is None or window[0] is None:
        return row, ("no_complaint_window", (
            f"kỳ {period} chưa có thời hạn nhận kiến nghị trong danh mục "
            "(complaint_windows.csv); liên hệ Sở Khoa học và Công nghệ"
        ))  # fmt: skip
    if filed < window[0]:
        return row, ("window_not_open", (
            f"gửi lúc {row['filed_at']}, trước khi kỳ {period} mở nhận kiến nghị "
            f"({window[0].astimezone(_VIETNAM):%d/%m/%Y %H:%M}, sau khi công bố kết quả sơ bộ); "
            "gửi lại sau thời điểm đó"
        ))  # fmt: skip
    # a complaint filed after the window closes is kept and flagged late (the marts say so)
    row["period"], row["filed_at"] = period, filed
    return row, None


_VIETNAM = dt.timezone(dt.timedelta(hours=7))


def _judge_decision(
    item: dict, reg: _Registry, filed: dict[str, tuple[int, str, str | None]], seen: set[str]
) -> tuple[dict, list[dict], tuple | None]:
    row: dict[str, Any] = {f: _text(item.get(f)) for f in (
        "complaint_id", "decision", "reason", "decided_by", "decided_at",
    )}  # fmt: skip
    answers = item.get("answers") or []
    if isinstance(answers, str):  # a portal database's json kept as text
        try:
            answers = json.loads(answers)
        except json.JSONDecodeError:
            answers = None  # refused below (bad_answer)
    if bad := _check_id(row["complaint_id"]):
        return row, [], bad
    cid = row["complaint_id"]
    complaint = reg.complaints.get(cid) or filed.get(cid)
    if complaint is None:
        return row, [], ("unknown_complaint", (
            f'không có kiến nghị mã "{cid}": gửi kiến nghị trước, rồi mới đến quyết định'
        ))  # fmt: skip
    row["period"] = complaint[0]
    if cid in reg.decided or cid in seen:
        return row, [], ("already_decided", (
            f'kiến nghị "{cid}" đã được quyết định; quyết định không sửa được — kiến nghị mới '
            "(mã mới) nếu cần xem xét lại"
        ))  # fmt: skip
    decision = (row["decision"] or "").lower()
    if decision not in (ACCEPTED, REJECTED):
        return row, [], ("bad_decision", (
            f'quyết định "{_shown(row["decision"])}" phải là accepted (chấp nhận) hoặc '
            "rejected (bác bỏ)"
        ))  # fmt: skip
    row["decision"] = decision
    if row["reason"] is None:
        return row, [], ("missing_reason", "quyết định phải ghi lý do (reason)")
    if row["decided_by"] is None:
        return row, [], ("missing_decided_by", "quyết định phải ghi người quyết định (decided_by)")
    if any(len(row[f]) > (MAX_TEXT_CHARS if f == "reason" else MAX_FIELD_CHARS)
           for f in ("reason", "decided_by")):  # fmt: skip
        return row, [], ("field_too_long", "lý do hoặc người quyết định quá dài")
    decided = _instant(row["decided_at"])
    if decided is None:
        return row, [], ("bad_decided_at", (
            f'thời điểm quyết định (decided_at) "{_shown(row["decided_at"])}" không đúng định '
            "dạng ISO-8601, ví dụ 2024-03-05T15:00:00+07:00"
        ))  # fmt: skip
    if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
        return row, [], ("bad_answer", (
            '"answers" phải là danh sách các đối tượng {"indicator_code", "value", '
            '"evidence_ref"}'
        ))  # fmt: skip
    if decision == ACCEPTED and not answers:
        return row, [], ("accepted_without_answer", (
            "chấp nhận kiến nghị thì phải kèm câu trả lời đã sửa (answers): kết quả thay đổi "
            "nhờ câu trả lời thẩm định dẫn kiến nghị này"
        ))  # fmt: skip
    if decision == REJECTED and answers:
        return row, [], ("rejected_with_answer", (
            "bác bỏ kiến nghị thì không kèm câu trả lời đã sửa; sửa điểm phải qua quyết định "
            "chấp nhận"
        ))  # fmt: skip
    row["decided_at"] = decided
    period, unit, indicator = complaint
    corrected = [
        {
            "period": str(period),
            "unit_code": unit,
            # a complaint about one indicator corrects that one unless the answer names another
            "indicator_code": _text(a.get("indicator_code")) or indicator,
            "value": as_text(a.get("value")),
            "evidence_ref": as_text(a.get("evidence_ref")),
            "stage": "appraisal",
            "submitted_at": row["decided_at"].isoformat(),
            "appraiser": row["decided_by"],
            "reason": row["reason"],
            "complaint_id": cid,
        }
        for a in answers
    ]
    return row, corrected, None


def judge(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    items: list[dict],
    earlier: list[Judged],
    numbers: list[int] | None = None,
    answers_after: int = 0,
) -> Judged:
    """Judges one file's complaints or decisions; ``earlier``: the files judged before it in
    this run (not committed yet), whose complaints a decision may name and whose ids repeat.
    ``numbers``: each item's row in its batch (default 1, 2, …); the corrected answers are
    numbered after ``answers_after`` (a portal page's own answers come first)."""
    reg = _Registry(con)
    filed = {c["complaint_id"]: (c["period"], c["unit_code"], c["indicator_code"])
             for j in earlier for c in j.complaints}  # fmt: skip
    decided = {d["complaint_id"] for j in earlier for d in j.decisions}
    judged = Judged(kind)
    seen: set[str] = set()
    reg.complaints.update(filed)  # an id filed by an earlier file of this run repeats
    reg.decided |= decided
    for n, item in zip(numbers or range(1, len(items) + 1), items, strict=True):
        if kind == COMPLAINTS:
            row, bad = _judge_complaint(item, reg, seen)
            answers: list[dict] = []
        else:
            row, answers, bad = _judge_decision(item, reg, filed, seen)
        row["source_row"] = n
        row["source_updated_at"] = as_text(item.get("updated_at"))  # a portal item's version
        if bad is not None:
            code, reason = bad
            judged.refused.append({**row, "reason_code": code, "reason": reason})
            continue
        if row.get("complaint_id"):
            seen.add(row["complaint_id"])
        if kind == COMPLAINTS:
            judged.complaints.append(row)
        else:
            judged.decisions.append(row)
            for answer in answers:
                judged.answers.append(
                    {**answer, "source_row": answers_after + len(judged.answers) + 1}
                )
    return judged


def known_items(
    con: duckdb.DuckDBPyConnection, source: str, kind: str, items: list[dict]
) -> set[int]:
    """The positions (from 0) of portal items already loaded from ``source``: the same
    complaint (or decision on it) with the same ``updated_at`` — a re-delivery, skipped like an
    answer version already loaded (docs/spec/submissions.md §8)."""
    table = "raw.complaint_rows" if kind == COMPLAINTS else "raw.decision_rows"
    on_record = {
        (cid, stamp)
        for cid, stamp in con.execute(
            f"""select complaint_id, source_updated_at from {table}
                where source = ? and source_updated_at is not null""",
            [source],
        ).fetchall()
    }
    found = set()
    for n, item in enumerate(items):
        stamp = _instant(_text(item.get("updated_at")))
        if (_text(item.get("complaint_id")), stamp) in on_record:
            found.add(n)
    return found


def collect_answers(con: duckdb.DuckDBPyConnection, sha256: str, source: str,
                    judged: Judged) -> None:  # fmt: skip
    """The corrected answers of accepted decisions, into ``incoming`` with every other answer."""
    rows.collect_records(
        con,
        [{"batch_sha256": sha256, "source": source, "submission_id": None, **a}
         for a in judged.answers],
    )  # fmt: skip


def append(
    con: duckdb.DuckDBPyConnection, sha256: str, source: str, source_file: str, judged: Judged
) -> None:
    """Appends a judged file's complaints, decisions and refusals to ``raw`` (inside the
    caller's transaction; ``now()`` is the transaction's time, as for answers)."""
    for c in judged.complaints:
        con.execute(
            """insert into raw.complaint_rows
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), try_cast(? as timestamptz))""",
            [c["complaint_id"], c["period"], c["unit_code"], c["indicator_code"], c["text"],
             c["evidence_ref"], c["filed_at"], source, sha256, c["source_row"],
             c["source_updated_at"]],
        )  # fmt: skip
    for d in judged.decisions:
        con.execute(
            """insert into raw.decision_rows
               values (?, ?, ?, ?, ?, ?, ?, ?, now(), try_cast(? as timestamptz))""",
            [d["complaint_id"], d["decision"], d["reason"], d["decided_by"], d["decided_at"],
             source, sha256, d["source_row"], d["source_updated_at"]],
        )  # fmt: skip
    for r in judged.refused:
        # the complaint's text, or the decision's word, cut: the archive keeps every byte
        sent = r.get("text") if judged.kind == COMPLAINTS else r.get("decision")
        sent_at = r.get("filed_at") if judged.kind == COMPLAINTS else r.get("decided_at")
        con.execute(
            """insert into raw.quarantine_rows (batch_sha256, source, source_file, source_row,
                   reason_code, reason, period, unit_code, indicator_code, value, evidence_ref,
                   stage, submitted_at, submission_id, quarantined_at)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())""",
            [sha256, source, source_file, r["source_row"], r["reason_code"], r["reason"],
             None if r.get("period") is None else str(r["period"]), r.get("unit_code"),
             r.get("indicator_code"), None if sent is None else sent[:QUARANTINE_TEXT_CHARS],
             r.get("evidence_ref"), judged.kind[:-1],
             None if sent_at is None else str(sent_at), r.get("complaint_id")],
        )  # fmt: skip
