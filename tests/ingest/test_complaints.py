"""Complaints and the council's decisions come through the inbox like submissions: kept by
their bytes, recorded in the ledger, refused with a Vietnamese reason and kept in quarantine
(docs/spec/complaints.md)."""

from __future__ import annotations

import json

from ingest import ingest_sources
from ingest.complaints import MAX_TEXT_CHARS
from tests.ingest.conftest import csv_text
from tests.ingest.test_portal_db import portal_dsn, postgres_up  # noqa: F401 (fixtures)

OPEN = "2024-02-05T09:00:00+07:00"  # inside 2023's window (complaint_windows.csv)
LATE = "2024-03-10T09:00:00+07:00"  # after it closed


def complaint(cid: str, **fields: object) -> dict:
    return {
        "complaint_id": cid, "period": 2023, "unit_code": "SO-SNV", "indicator_code": "NTS.4",
        "text": "Đơn vị đã có báo cáo, đề nghị chấm lại", "evidence_ref": "Báo cáo 12/BC-SNV",
        "filed_at": OPEN, **fields,
    }  # fmt: skip


def complaints_file(*items: dict) -> str:
    return json.dumps({"complaints": list(items)}, ensure_ascii=False)


def test_complaints_and_decisions_are_kept_and_the_accepted_one_brings_an_appraisal(
    settings, drop, query
) -> None:
    drop("self.csv", csv_text("2023,SO-SNV,NTS.4,40,,self,2024-01-10"))
    drop("kien_nghi.json", complaints_file(
        complaint("KN-1"), complaint("KN-2", indicator_code=None), complaint("KN-3", filed_at=LATE),
    ))  # fmt: skip
    report = ingest_sources(settings)
    assert [r.outcome for r in report.results] == ["loaded", "loaded"]
    drop("quyet_dinh.json", json.dumps({"decisions": [
        {"complaint_id": "KN-1", "decision": "accepted", "reason": "Báo cáo hợp lệ",
         "decided_by": "Hội đồng thẩm định", "decided_at": "2024-03-05T15:00:00+07:00",
         "answers": [{"value": "85", "evidence_ref": "Báo cáo 12/BC-SNV"}]},
        {"complaint_id": "KN-2", "decision": "rejected", "reason": "Không có minh chứng mới",
         "decided_by": "Hội đồng thẩm định", "decided_at": "2024-03-05T15:00:00+07:00"},
    ]}, ensure_ascii=False))  # fmt: skip
    (result,) = ingest_sources(settings).results
    assert (result.outcome, result.rows_loaded, result.periods) == ("loaded", 3, [2023])

    assert query("select complaint_id, indicator_code from raw.complaint_rows order by 1") == [
        ("KN-1", "NTS.4"), ("KN-2", None), ("KN-3", "NTS.4"),
    ]  # fmt: skip
    assert query("select complaint_id, decision from raw.decision_rows order by 1") == [
        ("KN-1", "accepted"), ("KN-2", "rejected"),
    ]  # fmt: skip
    # the corrected answer is an appraisal answer citing the complaint, judged like any other
    assert query(
        """select indicator_code, value, stage, appraiser, reason, complaint_id
           from raw.submission_rows where stage = 'appraisal'"""
    ) == [("NTS.4", "85", "appraisal", "Hội đồng thẩm định", "Báo cáo hợp lệ", "KN-1")]
    assert (settings.inbox / "processed" / "quyet_dinh.json").exists()


def test_hostile_complaint_files_are_refused_with_a_reason_and_kept(settings, drop, query) -> None:
    drop("first.json", complaints_file(complaint("KN-1")))
    ingest_sources(settings)
    drop("hostile.json", complaints_file(
        complaint("KN-1"),  # an id already on record
        complaint("KN-9", unit_code="SO-KHONG-CO"),
        complaint("KN-10", period="hai nghìn"),
        complaint("KN-11", text="x" * (MAX_TEXT_CHARS + 1)),
        complaint("KN-12", filed_at="2024-01-05T09:00:00+07:00"),  # before the window opened
        complaint("KN 13 ; drop table"),
        complaint("KN-14"),
        complaint("KN-14"),  # twice in one file
    ))  # fmt: skip
    drop("not_a_list.json", json.dumps({"complaints": "KN-1"}))
    drop("orphan.json", json.dumps({"decisions": [{
        "complaint_id": "KN-404", "decision": "accepted", "reason": "?", "decided_by": "A",
        "decided_at": "2024-03-05", "answers": [{"value": "1"}],
    }]}))  # fmt: skip
    results = {r.source_file: r for r in ingest_sources(settings).results}

    hostile = results["hostile.json"]
    assert (hostile.outcome, hostile.rows_loaded, hostile.rows_refused) == ("partial", 1, 7)
    refused = dict(
        query(
            """select submission_id, reason_code from raw.quarantine_rows
               where source_file = 'hostile.json' order by source_row"""
        )
    )
    assert refused == {
        "KN-1": "duplicate_complaint_id", "KN-9": "unknown_unit", "KN-10": "bad_period",
        "KN-11": "text_too_long", "KN-12": "window_not_open",
        "KN 13 ; drop table": "bad_complaint_id", "KN-14": "duplicate_complaint_id",
    }  # fmt: skip
    reasons = [r[0] for r in query("select reason from raw.quarantine_rows")]
    assert any("đã được ghi nhận trước đây" in r for r in reasons)
    assert any("không có trong danh mục đơn vị" in r for r in reasons)
    # a huge text is cut in quarantine; the archive keeps every byte
    (kept,) = query("select length(value) from raw.quarantine_rows where submission_id='KN-11'")
    assert kept == (2000,)

    assert (results["not_a_list.json"].outcome, results["not_a_list.json"].reason_code) == (
        "refused", "bad_json",
    )  # fmt: skip
    assert "danh sách" in results["not_a_list.json"].reason
    assert results["orphan.json"].outcome == "refused"
    assert query("select count(*) from raw.submission_rows") == [(0,)]  # nothing of the orphan
    quarantine = settings.inbox / "quarantine"
    for name in ("hostile.json", "not_a_list.json", "orphan.json"):
        assert (quarantine / name).exists() and (quarantine / f"{name}.reason.json").exists()
    note = json.loads((quarantine / "orphan.json.reason.json").read_text(encoding="utf-8"))
    assert note["refused_rows"][0]["reason_code"] == "unknown_complaint"
    assert query("select count(*) from raw.complaint_rows") == [(2,)]  # KN-1 and KN-14

    # the same file again is a duplicate; a second decision on a complaint is refused
    drop("again.json", complaints_file(complaint("KN-1")))
    drop("twice.json", json.dumps({"decisions": [
        {"complaint_id": "KN-14", "decision": "rejected", "reason": "Không đủ căn cứ",
         "decided_by": "A", "decided_at": "2024-03-05"},
        {"complaint_id": "KN-14", "decision": "accepted", "reason": "Xem lại",
         "decided_by": "B", "decided_at": "2024-03-06", "answers": [{"value": "9"}]},
    ]}, ensure_ascii=False))  # fmt: skip
    results = {r.source_file: r for r in ingest_sources(settings).results}
    assert (results["again.json"].outcome, results["again.json"].reason_code) == (
        "duplicate", "duplicate_file",
    )  # fmt: skip
    assert (results["twice.json"].outcome, results["twice.json"].rows_refused) == ("partial", 1)
    assert query(
        "select reason_code from raw.quarantine_rows where source_file = 'twice.json'"
    ) == [("already_decided",)]


def test_every_refusal_code_is_in_the_contract() -> None:
    """docs/spec/complaints.md §5 names exactly the codes a complaint or decision is refused with."""
    import re
    from pathlib import Path

    from ingest.complaints import ROW_REASONS

    text = (Path(__file__).parents[2] / "docs" / "spec" / "complaints.md").read_text("utf-8")
    section = text.split("## 5. What is refused", 1)[1].split("## 6.", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert documented == set(ROW_REASONS)


def test_the_portal_api_feed_carries_complaints_and_decisions(settings, query) -> None:
    """Items of kind complaint or decision in the portal's feed are judged like a complaints
    file's; pulled again (watermark deleted), none is loaded twice (docs/spec/complaints.md §4)."""
    import dataclasses

    import duckdb

    from testkit.portal_server import Portal, item, start

    portal = Portal()
    server, _ = start(portal)
    try:
        settings = dataclasses.replace(
            settings, portal_api_url=portal.url, portal_api_token=portal.token
        )
        portal.items = [
            item(1, "2024-01-20T02:00:00+00:00", value="40"),
            {"id": "KN-P1", "kind": "complaint", "updated_at": "2024-02-05T02:00:00+00:00",
             **{k: v for k, v in complaint("ignored").items() if k != "complaint_id"}},
            {"id": "QD-1", "kind": "decision", "updated_at": "2024-03-05T08:00:00+00:00",
             "complaint_id": "KN-P1", "decision": "accepted", "reason": "Đúng",
             "decided_by": "Hội đồng", "decided_at": "2024-03-05T15:00:00+07:00",
             "answers": [{"value": "90"}]},
            {"id": "KN-P2", "kind": "complaint", "updated_at": "2024-03-06T02:00:00+00:00",
             **{k: v for k, v in complaint("x", unit_code="KHONG-CO").items()
                if k != "complaint_id"}},
        ]  # fmt: skip
        (page,) = ingest_sources(settings, ("portal_api",)).results
        # an answer, a complaint, a decision and its corrected answer; a complaint refused
        assert (page.outcome, page.rows_loaded, page.rows_refused) == ("partial", 4, 1)
        assert query("select complaint_id, source from raw.complaint_rows") == [
            ("KN-P1", "portal_api")
        ]
        assert query(
            "select value, stage, complaint_id, source_row from raw.submission_rows order by 4"
        ) == [("40", "self", None, 1), ("90", "appraisal", "KN-P1", 5)]
        assert query("select reason_code from raw.quarantine_rows") == [("unknown_unit",)]

        con = duckdb.connect(str(settings.warehouse))
        con.execute("delete from raw.watermarks")
        con.close()
        portal.items.append(item(9, "2024-03-07T02:00:00+00:00", value="50"))
        (again,) = ingest_sources(settings, ("portal_api",)).results
        # the refused complaint is judged again (refused again), the rest is known
        assert (again.rows_loaded, again.rows_refused) == (1, 1), again.reason
        assert query("select count(*) from raw.complaint_rows") == [(1,)]
        assert query("select count(*) from raw.decision_rows") == [(1,)]
    finally:
        server.shutdown()


def test_the_portal_database_tables_of_complaints_and_decisions(
    settings,
    query,
    portal_dsn,  # noqa: F811 (the fixture)
) -> None:
    """portal_complaints and portal_decisions, where the portal has them, are pulled each by
    its own watermark and judged like a complaints file's (docs/spec/complaints.md §4)."""
    import dataclasses

    import psycopg2

    settings = dataclasses.replace(settings, portal_db_dsn=portal_dsn)
    ingest_sources(settings, ("portal_db",))  # the portal's answers; no complaint table yet
    with psycopg2.connect(portal_dsn) as pg, pg.cursor() as cur:
        cur.execute(
            """create table portal_complaints (id text primary key,
                   updated_at timestamptz not null, complaint_id text, period integer,
                   unit_code text, indicator_code text, text text, evidence_ref text,
                   filed_at timestamptz);
               create table portal_decisions (id bigint primary key,
                   updated_at timestamptz not null, complaint_id text, decision text,
                   reason text, decided_by text, decided_at timestamptz, answers jsonb)"""
        )
        cur.execute(
            "insert into portal_complaints values (%s, now(), %s, 2023, 'SO-SNV', 'NTS.4', "
            "'Đề nghị chấm lại', null, %s)",
            ["c-1", "KN-DB-1", OPEN],
        )
        cur.execute(
            "insert into portal_decisions values (1, now(), 'KN-DB-1', 'accepted', 'Hợp lệ', "
            "'Hội đồng', '2024-03-05T15:00:00+07:00', %s)",
            [json.dumps([{"value": "70"}])],
        )
    pg.close()
    results = ingest_sources(settings, ("portal_db",)).results
    assert [(r.source_file.split()[0], r.outcome) for r in results] == [
        ("portal_complaints", "loaded"), ("portal_decisions", "loaded"),
    ]  # fmt: skip
    assert query("select complaint_id, source from raw.complaint_rows") == [
        ("KN-DB-1", "portal_db")
    ]
    assert query(
        "select value, complaint_id from raw.submission_rows where stage = 'appraisal'"
    ) == [("70", "KN-DB-1")]
    assert ingest_sources(settings, ("portal_db",)).results == []  # nothing new after the marks
