"""The audit note `dti explain` prints: Vietnamese prose, the English codes in brackets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dti.text import printable_fields

STAGES = {"self": "tự đánh giá", "appraisal": "thẩm định"}
WHY = {
    "counts": "được tính",
    "overridden_by_appraisal": "không tính: điểm thẩm định thay thế",
    "blank_withdraws": "để trống: rút câu trả lời trước, chỉ số không có điểm",
    "blank_not_counted": "thẩm định để trống: giữ câu trả lời của đơn vị",
    "late_not_counted": "nộp sau hạn, kỳ này không tính câu trả lời trễ",
    "superseded": "không tính: có câu trả lời mới hơn cùng giai đoạn",
}


def _n(value: Decimal | int | None) -> str:
    """A number as Vietnamese write it (decimal comma), or an em dash."""
    if value is None:
        return "—"
    text = format(Decimal(value).normalize(), "f") if isinstance(value, Decimal) else str(value)
    return text.replace(".", ",")


def _units(items: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{u['unit_code']} {u['unit_name']} (hạng {u['rank']}, {_n(u['total_score'])}/"
        f"{_n(u['applicable_max'])} điểm, {_n(u['percent'])}%)"
        for u in items
    )


def render_unit(doc: dict[str, Any]) -> str:
    doc = printable_fields(doc)  # evidence, notes, reasons: no escape sequence, no forged line
    lines = [
        f"GIẢI TRÌNH KẾT QUẢ DTI {doc['period']} — {doc['unit_name']} [{doc['unit_code']}]",
        f"Khối [{doc['block']}], bộ chỉ số [{doc['framework_version']}], "
        f"trạng thái [{doc['status']}]{' — có câu trả lời nộp trễ [late]' if doc['late'] else ''}.",
        "",
        f"1. Tổng điểm [total_score] {_n(doc['total_score'])} trên điểm tối đa áp dụng "
        f"[applicable_max] {_n(doc['applicable_max'])}, đạt {_n(doc['percent'])}% [percent]; "
        f"điểm tự đánh giá [self_score] {_n(doc['self_score'])}.",
        f"   Tổng điểm là tổng {len(doc['answers'])} chỉ số thành phần ở mục 5 (cột Điểm).",
    ]
    level = doc["level"]
    lines.append(
        f"2. Mức độ [level] {level['level_name'] or '—'} [{level['level'] or '—'}], theo quy tắc "
        f"{level['rule']}:"
    )
    for t in level["thresholds"]:
        lines.append(
            f"   - {t['level_name']} [{t['level']}] từ {_n(t['from_pct'])}% "
            f"= từ {_n(t['from_total'])} điểm"
        )
    rank = doc["rank"]
    label = rank.get("rank_group_name") or ""
    group = (
        f"nhóm {label} [{rank['rank_group']}]".replace("  ", " ")
        if rank["rank_group"]
        else "cả khối"
    )
    if rank["rank"] is None and rank.get("not_ranked_reason"):
        lines.append(
            f"3. Xếp hạng [rank]: được đánh giá, không xếp hạng — {rank['not_ranked_reason']} "
            f"({group}, {rank['ranked_units']} đơn vị được xếp hạng)."
        )
    elif rank["rank"] is None:
        lines.append(
            f"3. Xếp hạng [rank]: không xếp hạng ({group}, {rank['ranked_units']} đơn vị)."
        )
    else:
        lines.append(
            f"3. Xếp hạng [rank] {rank['rank']}/{rank['ranked_units']} trong khối "
            f"[{rank['block']}], {group} (xếp hạng đồng hạng theo tỷ lệ chính xác)."
        )
        if rank["just_above"]:
            lines.append(f"   Ngay trên: {_units(rank['just_above'])}")
        if rank["tied_with"]:
            lines.append(f"   Đồng hạng: {_units(rank['tied_with'])}")
        if rank["just_below"]:
            lines.append(f"   Ngay dưới: {_units(rank['just_below'])}")
    m = doc["margins"]
    lines.append("4. Khoảng cách [margins] (các đơn vị khác giữ nguyên):")
    for field, some, none in (
        (
            "points_to_next_level",
            f"cần thêm {{}} điểm để lên mức [{m['next_level']}]",
            "không có mức cao hơn",
        ),
        ("points_to_drop_level", "mất {} điểm thì xuống mức", "không thể xuống mức"),
        ("points_to_next_rank", "cần thêm {} điểm để lên hạng", "không có hạng cao hơn"),
        ("points_to_drop_rank", "mất {} điểm thì tụt hạng", "không thể tụt hạng"),
    ):
        value = m[field]
        text = none if value is None else some.format(_n(value))
        lines.append(f"   - {text} [{field}]")
    lines.append("5. Chỉ số chính [pillars]:")
    for p in doc["pillars"]:
        lines.append(
            f"   - {p['pillar_code']} {p['pillar_name']}: {_n(p['score'])}/{_n(p['max_points'])} "
            f"điểm (tự đánh giá {_n(p['self_score'])}), hạng {_n(p['rank'])}"
        )
    lines.append(
        "   Chỉ số thành phần (mã; giai đoạn được tính; giá trị; điểm/tối đa; minh chứng):"
    )
    for a in doc["answers"]:
        stage = a["counted_stage"]
        evidence = a["appraisal_evidence_ref"] if stage == "appraisal" else a["self_evidence_ref"]
        lines.append(
            f"   - {a['indicator_code']} [{a['method']}]; "
            f"{STAGES.get(stage or '', 'chưa trả lời')} [{stage or 'unanswered'}]; "
            f"{a['counted_value'] if a['counted_value'] is not None else '—'}; "
            f"{_n(a['final_points'])}/{_n(a['max_points'])}"
            f"{'; tự đánh giá ' + _n(a['self_points']) if stage == 'appraisal' else ''}"
            f"; {evidence or '—'}{' [late]' if a['late'] else ''}"
            f"{' — thiếu minh chứng bắt buộc [evidence_missing]' if a['evidence_missing'] else ''}"
        )
        if a["self_note"]:
            lines.append(f"     giải trình của đơn vị [note]: {a['self_note']}")
        if stage == "appraisal" and (a["appraiser"] or a["appraisal_reason"]):
            lines.append(
                f"     thẩm định bởi [appraiser] {a['appraiser'] or '—'}, "
                f"lý do [reason]: {a['appraisal_reason'] or '—'}"
            )
        if a.get("complaints"):
            lines.append(f"     kiến nghị [complaints]: {', '.join(a['complaints'])}")
    lines += _complaint_lines(doc.get("complaints") or [], "   ")
    lines.append("6. Kiểm định đã chặn/cho phép công bố [validation_runs]:")
    for run in doc["validation_runs"] or []:
        lines.append(
            f"   - {run['suite']} [{run['checkpoint']}] "
            f"{'ĐẠT [passed]' if run['success'] else 'KHÔNG ĐẠT [failed]'} "
            f"lúc {run['started_at']}, run {run['run_id']}"
            f"{'' if run['gated_publication'] else ' (chưa công bố)'}"
            + "".join(f"\n       cảnh báo [warning]: {w}" for w in run["warnings"])
        )
    if not doc["validation_runs"]:
        lines.append("   - chưa có lần kiểm định nào được ghi nhận")
    lines.append(
        f"Chi tiết từng chỉ số: dti explain --period {doc['period']} --unit {doc['unit_code']} "
        "--indicator <mã>"
    )
    return "\n".join(lines)


def render_indicator(doc: dict[str, Any]) -> str:
    doc = printable_fields(doc)  # evidence, notes, reasons: no escape sequence, no forged line
    ind = doc["indicator"]
    lines = [
        f"GIẢI TRÌNH CHỈ SỐ {ind['indicator_code']} — {ind['indicator_name']}",
        f"Đơn vị [{doc['unit_code']}], kỳ {doc['period']}; chỉ số chính [{ind['pillar_code']}], "
        f"phương pháp [{ind['method']}], tối đa {_n(ind['max_points'])} điểm.",
        f"Hạn nộp tự đánh giá [deadline] {doc['deadline'] or '—'}; câu trả lời trễ "
        f"{'vẫn được tính' if doc['late_self_answers_count'] else 'không được tính'} "
        f"[late_self_answers_count={str(doc['late_self_answers_count']).lower()}].",
        "",
        f"Mọi câu trả lời đã nhận ({len(doc['answers'])}), cũ trước:",
    ]
    for i, a in enumerate(doc["answers"], start=1):
        lines.append(
            f"{i}. {STAGES[a['stage']]} [{a['stage']}] giá trị "
            f"{a['value']!r} lúc {a['submitted_at']}{' (trễ hạn [late])' if a['late'] else ''}"
        )
        lines.append(
            f"   nguồn [{a['source']}] {a['source_file'] or '—'} dòng [source_row] {a['source_row']}, "
            f"sha256 {a['batch_sha256']}, mã [submission_id] {a['submission_id']}"
        )
        lines.append(f"   minh chứng [evidence_ref]: {a['evidence_ref'] or '—'}")
        if a["note"]:
            lines.append(f"   giải trình [note]: {a['note']}")
        if a["appraiser"] or a["reason"]:
            lines.append(
                f"   người thẩm định [appraiser]: {a['appraiser'] or '—'}; "
                f"lý do [reason]: {a['reason'] or '—'}"
            )
        if a.get("complaint_id"):
            lines.append(f"   theo kiến nghị được chấp nhận [complaint_id] {a['complaint_id']}")
        lines.append(f"   → {WHY[a['why']]} [{a['why']}]")
    if not doc["answers"]:
        lines.append("   (không có câu trả lời nào: chỉ số được 0 điểm)")
    lines.append("")
    stage = doc["counted_stage"]
    lines.append(
        f"Giai đoạn được tính [counted_stage]: {STAGES.get(stage or '', 'không có')} "
        f"[{stage or 'none'}]; điểm tự đánh giá {_n(doc['self_points'])}, "
        f"điểm sau thẩm định [final_points] {_n(doc['final_points'])}."
    )
    ar = doc["arithmetic"]
    if ar is not None:
        lines.append(
            f"Phép tính [{ar['method']}]: {ar['formula']}; làm tròn nửa lên 2 chữ số "
            f"[{ar['rounding']}] → {_n(ar['points'])} điểm"
            f"{'' if ar['matches_marts'] else ' (KHÁC điểm trong marts — báo ngay)'}."
        )
    else:
        lines.append("Phép tính: không có câu trả lời được tính → 0 điểm.")
    if doc.get("complaints"):
        lines += ["", *_complaint_lines(doc["complaints"], "")]
    return "\n".join(lines)


COMPLAINT_STATUS = {"open": "chưa quyết định", "accepted": "chấp nhận", "rejected": "bác bỏ"}


def _complaint_lines(complaints: list[dict[str, Any]], indent: str) -> list[str]:
    """The complaint history (docs/spec/complaints.md): each complaint and its decision."""
    if not complaints:
        return []
    lines = [f"{indent}Kiến nghị [complaints] ({len(complaints)}):"]
    for c in complaints:
        about = c["indicator_code"] or "cả đơn vị"
        lines.append(
            f"{indent}- {c['complaint_id']} về {about}, gửi {c['filed_at']}"
            f"{' (nộp muộn [late])' if c['late'] else ''}: {c['text']}"
        )
        lines.append(
            f"{indent}  → {COMPLAINT_STATUS.get(c['status'], c['status'])} [{c['status']}]"
            + (
                f" bởi {c['decided_by']} lúc {c['decided_at']}, lý do: {c['reason']}"
                if c["status"] != "open"
                else ""
            )
            + (f"; sửa {', '.join(c['indicators_changed'])}" if c["indicators_changed"] else "")
        )
    return lines
