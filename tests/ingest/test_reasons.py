"""The optional reasons of an answer — `note` (the unit's), `appraiser` and `reason` (the
council's) — come through every source into raw.submission_rows; a source without them loads
as before."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import psycopg2

from ingest import ingest_sources
from testkit.portal_server import Portal, item, start
from tests.ingest.conftest import csv_text
from tests.ingest.test_inbox import _xlsx
from tests.ingest.test_portal_db import T0, portal_dsn, postgres_up  # noqa: F401 (fixtures)

REASONS = "select indicator_code, stage, note, appraiser, reason from raw.submission_rows"


def test_inbox_files_carry_note_appraiser_and_reason(settings, drop, query):
    drop(
        "self.csv",
        csv_text(
            "2023,SO-SNV,NTS.1,có,QĐ 1,self,2023-05-02,Đã ban hành từ tháng 3,,",
            "2023,SO-SNV,NTS.2,có,,self,2023-05-02,  ,,",
            header="period,unit_code,indicator_code,value,evidence_ref,stage,submitted_at,"
            "note,appraiser,reason",
        ),
    )
    drop(
        "council.xlsx",
        _xlsx(
            [
                ["period", "unit_code", "indicator_code", "value", "stage", "submitted_at",
                 "Appraiser", "Reason"],
                [2023, "SO-SNV", "NTS.1", "không", "appraisal", "2024-02-01T10:00:00+07:00",
                 "Nguyễn Văn A", "Quyết định chưa ký"],
            ]
        ),
    )  # fmt: skip
    council = {
        "period": 2023, "unit_code": "SO-SYT", "stage": "appraisal",
        "submitted_at": "2024-02-01T10:00:00+07:00", "appraiser": "Trần Thị B",
        "answers": [
            {"indicator_code": "NTS.1", "value": "0", "reason": "Không có biên bản"},
            {"indicator_code": "NTS.2", "value": "1", "appraiser": "Lê C", "reason": "Đủ"},
        ],
    }  # fmt: skip
    drop("council.json", json.dumps(council, ensure_ascii=False))

    report = ingest_sources(settings)

    assert report.rows_refused == 0 and report.rows_loaded == 5
    assert sorted(query(REASONS + " where unit_code = 'SO-SNV'")) == [
        ("NTS.1", "appraisal", None, "Nguyễn Văn A", "Quyết định chưa ký"),
        ("NTS.1", "self", "Đã ban hành từ tháng 3", None, None),
        # blanks are no note
        ("NTS.2", "self", None, None, None),
    ]
    assert sorted(query(REASONS + " where unit_code = 'SO-SYT'")) == [
        ("NTS.1", "appraisal", None, "Trần Thị B", "Không có biên bản"),
        ("NTS.2", "appraisal", None, "Lê C", "Đủ"),
    ]


def test_the_portal_api_carries_the_reasons_when_it_sends_them(settings, query):
    portal = Portal(
        items=[
            item(1, "2023-05-02T02:00:00.000000+00:00", note="Giải trình 1"),
            item(
                2,
                "2023-05-02T02:00:01.000000+00:00",
                stage="appraisal",
                appraiser="Hội đồng",
                reason="Thiếu minh chứng",
            ),
            item(3, "2023-05-02T02:00:02.000000+00:00"),
        ]
    )
    server, _ = start(portal)
    try:
        api = dataclasses.replace(
            settings, portal_api_url=portal.url, portal_api_token=portal.token
        )
        report = ingest_sources(api, ("portal_api",))
    finally:
        server.shutdown()
        server.server_close()
    assert not report.errors and report.rows_loaded == 3
    assert query(
        "select submission_id, note, appraiser, reason from raw.submission_rows order by 1"
    ) == [
        ("ans-00001", "Giải trình 1", None, None),
        ("ans-00002", None, "Hội đồng", "Thiếu minh chứng"),
        ("ans-00003", None, None, None),
    ]


def test_the_portal_database_reads_the_reason_columns_when_the_table_has_them(
    settings,
    portal_dsn,  # noqa: F811 (the fixture imported above)
    query,
):
    with psycopg2.connect(portal_dsn) as con, con.cursor() as cur:
        cur.execute("alter table portal_submissions add column appraiser text")
        cur.execute("alter table portal_submissions add column reason text")
        cur.execute(
            "insert into portal_submissions values (100, %s, 2023, 'SO-SNV', 'NTS.1', 'không', "
            "null, 'appraisal', %s, 'Phạm D', 'Sai số liệu')",
            [T0 + dt.timedelta(hours=1), T0],
        )
    con.close()

    report = ingest_sources(dataclasses.replace(settings, portal_db_dsn=portal_dsn), ("portal_db",))

    assert not report.errors and report.rows_loaded == 24
    assert query(
        "select note, appraiser, reason from raw.submission_rows where submission_id = '100'"
    ) == [(None, "Phạm D", "Sai số liệu")]
    # the table has no note column: rows without one load as before
    assert query("select count(*) from raw.submission_rows where note is not null") == [(0,)]
