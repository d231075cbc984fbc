"""The notices reach people: a real SMTP server on loopback receives what each one says."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dti.settings import Settings
from orchestration import tasks
from orchestration.notify import DtiNotifier, send
from pipeline import steps as pipeline
from tests.orchestration.smtp_server import SmtpServer


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, settings: Settings):
    server = SmtpServer()
    monkeypatch.delenv("AIRFLOW_CONN_DTI_SMTP", raising=False)
    monkeypatch.delenv("DTI_NOTIFY_WEBHOOK_URL", raising=False)
    for key, value in server.env("ict@example.gov.vn, oncall@example.gov.vn").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DTI_WAREHOUSE", str(settings.warehouse))
    monkeypatch.setenv("DTI_OUT", str(settings.out))
    yield server
    server.close()


def _failed_gate(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Exception:
    """The exception the transform task fails with when a gate fails, made the way
    `tasks.transform` makes it."""
    from expectations.gate import GateFailed, ValidationRun

    run = ValidationRun(
        run_id="r1",
        suite="submissions",
        checkpoint="submissions",
        period=2023,
        success=False,
        critical_failures=[
            "expectation 'stage_allowed' — stage is self or appraisal — 1 failing row(s), "
            'e.g. [{"stage": "review", "unit_code": "QH-Q1"}]'
        ],
        report_path="/srv/dti/warehouse_work/gx/submissions.html",
    )

    def failing(s: Settings, checkpoint: str, period: int):
        raise GateFailed(run)

    monkeypatch.setattr(pipeline, "seed_registry", lambda s: None)
    monkeypatch.setattr(pipeline, "validate_checkpoint", failing)
    try:
        tasks.transform(settings, 2023, {}, False)
    except Exception as exc:
        return exc
    raise AssertionError("the gate did not fail")


class TI:
    dag_id, task_id, run_id, try_number, map_index = (
        "dti_transform", "transform", "asset_triggered__1", 1, -1,
    )  # fmt: skip
    log_url = "http://127.0.0.1:8080/dags/dti_transform/runs/asset_triggered__1"

    def xcom_pull(self, task_ids: str):
        return [2023]


def test_a_failed_gate_is_mailed_with_its_suite_check_and_report(
    smtp: SmtpServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = {
        "ti": TI(),
        "exception": _failed_gate(settings, monkeypatch),
        "params": {"period": 2023},
    }
    DtiNotifier("failure")(context)

    (mail,) = smtp.received
    assert mail.recipients == ["ict@example.gov.vn", "oncall@example.gov.vn"]
    assert mail.sender == "dti-pipeline@example.gov.vn"
    assert mail.subject == ("[DTI] validation gate failed: dti_transform.transform (period 2023)")
    assert "suite 'submissions'" in mail.text
    assert "\n  - expectation 'stage_allowed'" in mail.text
    assert '"stage": "review"' in mail.text  # the row, not HTML-escaped
    assert "report:  /srv/dti/warehouse_work/gx/submissions.html" in mail.text


def test_a_notice_whose_text_looks_like_a_template_is_sent_as_it_is(
    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = {"ti": TI(), "exception": ValueError("value '{{ 7*7 }}' refused")}
    DtiNotifier("failure")(context)
    assert "value '{{ 7*7 }}' refused" in smtp.wait_for(lambda m: True, 5).text


def test_an_approval_request_says_what_to_approve_and_where(smtp: SmtpServer) -> None:
    from publish.releases import approval_prompt

    draft = {
        "period": 2023, "number": 2, "previous_release": 1, "publication": "final",
        "built_at": "2024-02-20T03:00:00Z", "folder": ".releases/2023/2",
        "url": "https://dti.example.gov.vn/ban-nhap/.releases/2023/2/index.html",
        "bundle_sha256": "ab" * 32, "validation_passed": True,
        "warnings": ["every_unit_submitted: Quận 4"], "levels": [], "not_submitted": 0,
        "units_moved": [], "changes": [], "pages_changed": [], "files_changed": ["index.html"],
    }  # fmt: skip
    subject, body = approval_prompt(draft)
    assert subject == "Phê duyệt kết quả DTI năm 2023 — bản 2 (chính thức)"

    class Asked(TI):
        def xcom_pull(self, task_ids: str):
            assert task_ids == "describe_draft"
            return {"period": 2023, "number": 2, "subject": subject, "body": body}

    DtiNotifier("approval")({"ti": Asked()})

    (mail,) = smtp.received
    assert mail.subject == "[DTI] Phê duyệt kết quả DTI năm 2023 — bản 2 (chính thức)"
    assert "Kết quả DTI năm 2023: bản 2 chờ phê duyệt" in mail.text  # what: the draft release
    assert "Bản này thay bản 1" in mail.text
    assert "/ban-nhap/.releases/2023/2/index.html" in mail.text  # where to look at it first
    assert "ab" * 32 in mail.text  # the checksum the decision names
    assert "every_unit_submitted: Quận 4" in mail.text  # the warnings
    assert "Phê duyệt hoặc từ chối tại:" in mail.text and "Required actions" in mail.text


def test_the_deadline_alert_callback_mails_from_the_triggerer(smtp: SmtpServer) -> None:
    """What the triggerer does with the DeadlineAlert's AsyncCallback when a run is overdue."""
    from airflow.triggers.callback import CallbackTrigger

    from dti.settings import load_orchestration_settings
    from orchestration.config import run_deadline

    alert = run_deadline(load_orchestration_settings())
    context = {
        "dag_run": {"dag_id": "dti_transform", "dag_run_id": "asset_triggered__9",
                    "state": "running", "queued_at": "2026-12-01T08:00:00+00:00"},
        "deadline": {"id": "d1", "deadline_time": "2026-12-01T09:00:00+00:00"},
    }  # fmt: skip
    trigger = CallbackTrigger(alert.callback.path, {**alert.callback.kwargs, "context": context})

    async def events() -> list:
        return [event.payload async for event in trigger.run()]

    states = [e["state"] for e in asyncio.run(events())]
    assert states == ["running", "success"]
    (mail,) = smtp.received
    assert mail.subject == "[DTI] dti_transform run past its deadline"
    assert "asset_triggered__9" in mail.text and "2026-12-01T09:00:00+00:00" in mail.text


def test_the_webhook_gets_the_same_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    posted: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for key in ("DTI_SMTP_HOST", "DTI_MAIL_TO"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("DTI_NOTIFY_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/h")
        from orchestration.notify import Notice

        assert send(Notice("[DTI] subject", "body")) == ["webhook"]
    finally:
        server.shutdown()
        server.server_close()
    assert posted == [{"text": "*[DTI] subject*\n```\nbody\n```"}]


def test_a_notice_cannot_break_out_of_its_code_block_or_mention_everyone() -> None:
    """Issue 26: a failing row quoted in the body ends the code block with backticks, then
    pings the channel and plants a link; the webhook shows all of it as text."""
    from orchestration.notify import webhook_text

    body = "row: x\n```\n<!channel> *click* <http://evil.example|hồ sơ> & more ````"
    text = webhook_text(body)
    assert "```" not in text and "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&amp; more" in text
    assert text.count("\u02cb") == 7 and "hồ sơ" in text


def test_nothing_configured_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("DTI_SMTP_HOST", "DTI_MAIL_TO", "DTI_NOTIFY_WEBHOOK_URL"):
        monkeypatch.delenv(key, raising=False)
    from orchestration.notify import Notice

    assert send(Notice("s", "b")) == []


def test_an_unreachable_smtp_server_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens
    monkeypatch.delenv("AIRFLOW_CONN_DTI_SMTP", raising=False)
    monkeypatch.delenv("DTI_NOTIFY_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("DTI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DTI_SMTP_PORT", str(port))
    monkeypatch.setenv("DTI_MAIL_TO", "ict@example.gov.vn")
    from orchestration.notify import Notice

    assert send(Notice("s", "b")) == []
    assert "could not e-mail 's'" in caplog.text


def test_reminders_list_the_missing_units_of_a_period_due(
    smtp: SmtpServer, settings: Settings, tmp_path: Path
) -> None:
    from datetime import date

    from tests.pipeline.test_missing import warehouse_with_deadline

    warehouse_with_deadline(settings, "2024-01-31T23:59:59+07:00")
    assert tasks.send_reminders(settings, (7, 1), None, date(2024, 1, 20)) == []  # 11 days
    assert smtp.received == []

    sent = tasks.send_reminders(settings, (7, 1), None, date(2024, 1, 24))  # 7 days before
    assert [s["period"] for s in sent] == [2023] and sent[0]["channels"] == ["email"]
    (mail,) = smtp.received
    assert mail.subject.startswith("[DTI] 2023: ")
    assert "not submitted" in mail.subject
    assert "SO-E" in mail.text and "Sở Xây dựng" in mail.text
    assert "dti missing --period 2023" in mail.text
