"""The assessment cycle (issue 25): a preliminary release, complaints within the window (one
accepted with a corrected answer, one rejected with a reason) and one late, then the final
release — whose changes cite the accepted complaint, whose numbers are the reference
scorer's on the final answers, and which warns that a complaint is still open."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb

from dti.settings import SEEDS_DIR
from pipeline import cli, jobs
from pipeline.sample import write_sample
from publish.releases import ReleaseStore, approval_prompt, describe
from testkit.reference_scoring import read_inbox, score_period
from tests.pipeline.test_revisions import _essentials

PERIOD = 2023
DECIDED_AT = "2024-03-05T15:00:00+07:00"


def _drop(settings, name: str, document: dict | str) -> None:
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    (settings.inbox / name).write_text(text, encoding="utf-8")
    (settings.inbox / f"{name}.ready").write_bytes(b"")


def _query(settings, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_a_period_through_the_cycle_of_complaints(settings, capsys) -> None:
    write_sample(settings.inbox, period=PERIOD)
    jobs.run(settings, [PERIOD], publication="preliminary")
    answered = read_inbox(settings.inbox / "processed")

    # an answer of the unit's own the council has not appraised, below its maximum; and
    # another unit's self answer, revised after the preliminary release without any complaint
    (target,) = _query(
        settings,
        """select unit_code, indicator_code, method, cast(max_points as varchar),
                  cast(final_points as varchar)
           from marts.fct_indicator_points
           where period = ? and scored_stage = 'self' and method in ('ratio', 'points')
             and final_points < max_points
           order by unit_code = 'SO-SNV' desc, unit_code, indicator_code limit 1""",
        [PERIOD],
    )
    (other,) = _query(
        settings,
        """select unit_code, indicator_code from marts.fct_indicator_points
           where period = ? and scored_stage = 'self' and final_points > 0 and unit_code <> ?
           order by unit_code, indicator_code limit 1""",
        [PERIOD, target[0]],
    )
    unit, indicator, method, max_points, before_points = target
    corrected = "100" if method == "ratio" else max_points
    complaint = {"period": PERIOD, "unit_code": unit, "evidence_ref": "Công văn 45/CV"}
    _drop(settings, "kien_nghi.json", {"complaints": [
        {**complaint, "complaint_id": "KN-1", "indicator_code": indicator,
         "text": "Đơn vị đã nộp đủ minh chứng, đề nghị chấm lại", "filed_at": "2024-02-05T09:00"},
        {**complaint, "complaint_id": "KN-2", "text": "Đề nghị xem lại xếp hạng của cả đơn vị",
         "filed_at": "2024-02-06T09:00:00+07:00"},
        {**complaint, "complaint_id": "KN-3", "indicator_code": indicator,
         "text": "Bổ sung giải trình", "filed_at": "2024-03-10T09:00:00+07:00"},  # closed 29/02
    ]})  # fmt: skip
    _drop(settings, "quyet_dinh.json", {"decisions": [
        {"complaint_id": "KN-1", "decision": "accepted", "reason": "Minh chứng hợp lệ",
         "decided_by": "Hội đồng thẩm định", "decided_at": DECIDED_AT,
         "answers": [{"value": corrected, "evidence_ref": "Công văn 45/CV"}]},
        {"complaint_id": "KN-2", "decision": "rejected", "reason": "Không có căn cứ mới",
         "decided_by": "Hội đồng thẩm định", "decided_at": DECIDED_AT},
    ]})  # fmt: skip
    revision = {
        "period": str(PERIOD), "unit_code": other[0], "indicator_code": other[1],
        "value": "0", "evidence_ref": "", "stage": "self",
        "submitted_at": "2024-01-30T09:00:00+07:00",
    }  # fmt: skip
    _drop(settings, "sua.csv", ",".join(revision) + "\n" + ",".join(revision.values()) + "\n")

    (final,) = jobs.run(settings, [PERIOD], publication="final")
    manifest = json.loads((final.bundle_dir / "manifest.json").read_text(encoding="utf-8"))

    # the final release's changes cite the accepted complaint and its decision ...
    cited = {(c["unit_code"], c["indicator_code"]): c for c in manifest["answer_changes"]}
    change = cited[(unit, indicator)]
    assert Decimal(change["before"]["points"]) == Decimal(before_points)
    assert change["after"]["stage"] == "appraisal" and change["after"]["value"] == corrected
    assert change["cause"]["kind"] == "complaint"
    assert (change["cause"]["complaint_id"], change["cause"]["decision"]) == ("KN-1", "accepted")
    assert change["cause"]["reason"] == "Minh chứng hợp lệ"
    # ... and flag the change nothing explains, in the release and in its prompt
    assert cited[(other[0], other[1])]["cause"] is None
    assert manifest["unexplained_changes"] == 1
    store = ReleaseStore(settings.out, PERIOD)
    _, body = approval_prompt(describe(store.current()))
    assert "kiến nghị KN-1" in body and "Minh chứng hợp lệ" in body
    assert "1 thay đổi không có căn cứ" in body
    # a complaint still open (the late one) is a warning of the final release's validation
    warnings = [w for run in manifest["validation_runs"] for w in run["warnings"]]
    assert any("complaints_open" in w for w in warnings), warnings

    # every number is the reference scorer's on the final answers
    appraisal = _query(
        settings,
        """select value, strftime(submitted_at, '%Y-%m-%dT%H:%M:%S+07:00'), submission_id
           from raw.submission_rows where complaint_id = 'KN-1'""",
    )
    (value, submitted_at, submission_id) = appraisal[0]
    rows = [
        *answered,
        {**revision, "submission_id": "z-revision"},
        {"period": PERIOD, "unit_code": unit, "indicator_code": indicator, "value": value,
         "evidence_ref": "Công văn 45/CV", "stage": "appraisal", "submitted_at": submitted_at,
         "submission_id": submission_id},
    ]  # fmt: skip
    published = json.loads((final.bundle_dir / "results.json").read_text(encoding="utf-8"))
    assert _essentials(published["units"]) == _essentials(score_period(rows, PERIOD, SEEDS_DIR))
    releases = [describe(r) for r in store.releases()]
    assert [(r["number"], r["publication"]) for r in releases] == [
        (1, "preliminary"), (2, "final"),
    ]  # fmt: skip

    # `dti complaints` lists all three: accepted (with the answer it changed), rejected, late
    assert cli.main(["complaints", "--period", str(PERIOD), "--warehouse",
                     str(settings.warehouse), "--json"]) == 0  # fmt: skip
    listed = json.loads(capsys.readouterr().out)
    assert listed["counts"] == {"open": 1, "accepted": 1, "rejected": 1, "late": 1}
    by_id = {c["complaint_id"]: c for c in listed["complaints"]}
    assert [by_id[k]["status"] for k in ("KN-1", "KN-2", "KN-3")] == [
        "accepted", "rejected", "open",
    ]  # fmt: skip
    assert by_id["KN-3"]["late"] and not by_id["KN-1"]["late"]
    (changed,) = by_id["KN-1"]["answers_changed"]
    assert (changed["indicator_code"], changed["corrected_value"], changed["is_counted"]) == (
        indicator, corrected, True,
    )  # fmt: skip
    assert (
        by_id["KN-2"]["reason"] == "Không có căn cứ mới" and by_id["KN-2"]["indicator_code"] is None
    )
    text = jobs.complaints(settings, PERIOD, unit).render()
    assert "KN-3" in text and "nộp muộn" in text and "bác bỏ" in text

    # `dti explain` shows the complaint history of the answer
    from pipeline import explain, explain_text

    doc = explain.explain_unit(settings, PERIOD, unit)
    (answer,) = [a for a in doc["answers"] if a["indicator_code"] == indicator]
    assert answer["complaints"] == ["KN-1", "KN-2", "KN-3"]  # KN-2 is about the whole unit
    assert "KN-2" in explain_text.render_unit(doc)
    one = explain.explain_indicator(settings, PERIOD, unit, indicator)
    (brought,) = [a for a in one["answers"] if a["stage"] == "appraisal"]
    assert (brought["complaint_id"], brought["why"]) == ("KN-1", "counts")
    assert "theo kiến nghị được chấp nhận [complaint_id] KN-1" in explain_text.render_indicator(one)

    # and so does the unit's page of the final release
    from publish.site import UNIT_DIR, unit_page_name

    page = (final.bundle_dir / UNIT_DIR / unit_page_name(unit)).read_text(encoding="utf-8")
    assert 'id="h-complaints"' in page and 'data-complaint-id="KN-1"' in page
    assert "Minh chứng hợp lệ" in page and "(nộp muộn)" in page
