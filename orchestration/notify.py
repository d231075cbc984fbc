"""Who is told what: failure notices, approval requests, overdue runs and deadline reminders.

Every notice goes through Airflow's notifier mechanism (``DtiNotifier``, a ``BaseNotifier``):
by e-mail with the SMTP provider's ``SmtpNotifier`` over the connection ``dti_smtp`` (made
from ``DTI_SMTP_*`` when the deployment does not define it), and to a Slack/Mattermost
incoming webhook when ``DTI_NOTIFY_WEBHOOK_URL`` is set. Nothing configured, nothing sent
(the failure note under ``<warehouse>_work/airflow_failures/`` is still written).

The notices say what to do next: a failure names the DAG, task, period, the suite and the
failing check (the gate's message) and the report; an approval request names the periods,
the bundle folders, the gate's warnings and the link to *Required actions*; an overdue run
names its DAG, run and how long it has been going; a reminder lists the units still missing.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseNotifier

from dti.settings import OrchestrationSettings, load_orchestration_settings

log = logging.getLogger(__name__)

SMTP_CONN_ID = "dti_smtp"  # made from DTI_SMTP_* unless the deployment defines it


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str

    def html(self) -> str:
        return f'<pre style="font-family: monospace">{html.escape(self.body)}</pre>'


# --- what each notice says -------------------------------------------------------------------


def failure_notice(context: Mapping[str, Any]) -> Notice:
    from orchestration.callbacks import describe_failure

    note = describe_failure(dict(context))
    error = note.error
    # A failed gate's message is "validation gate failed: suite '…' … - <check> … report: …"
    # on several lines; describe_failure joined them, so split them back for the reader.
    body_error = error.replace(" - expectation", "\n  - expectation").replace(
        " report: ", "\n  report: "
    )
    body = "\n".join(
        [
            f"DAG:     {note.dag_id}",
            f"task:    {note.task_id} (try {note.try_number})",
            f"run:     {note.run_id}",
            f"period:  {note.period if note.period is not None else 'from the triggering events'}",
            "",
            body_error,
            "",
            f"report:  {note.report}",
            f"log:     {note.log_url or 'the task log in the Airflow UI'}",
            "",
            "Nothing was published from this run. Fix the data (or the registry) and drop the "
            "corrected file; a failed gate is not retried.",
        ]
    )
    what = "validation gate" if "validation gate failed" in error else "task"
    subject = f"[DTI] {what} failed: {note.dag_id}.{note.task_id}"
    if note.period is not None:
        subject += f" (period {note.period})"
    return Notice(subject, body)


def approval_notice(context: Mapping[str, Any]) -> Notice:
    """What to decide (one period's draft release, as the Airflow prompt shows it) and where
    (the UI's Required actions). In Vietnamese: the ICT department and the council read it."""
    ti = context.get("ti") or context.get("task_instance")
    request = (ti.xcom_pull(task_ids="describe_draft") if ti is not None else None) or {}
    period, number = request.get("period", "?"), request.get("number", "?")
    lines = [f"Bản công bố kết quả DTI kỳ {period} (bản {number}) đang chờ anh/chị phê duyệt.", ""]
    lines.append(request.get("body") or "(nội dung bản nháp có trong yêu cầu trên Airflow)")
    link = None
    try:
        from airflow.providers.standard.operators.hitl import HITLOperator

        link = HITLOperator.generate_link_to_ui_from_context(context=dict(context))
    except Exception:  # no api.base_url configured: the generic place
        log.debug("no link to Required actions", exc_info=True)
    lines += ["", f"Phê duyệt hoặc từ chối tại: {link or 'Airflow, Browse > Required actions'}"]
    if ti is not None:
        lines.append(f"(DAG {ti.dag_id}, run {ti.run_id}, task {ti.task_id})")
    subject = request.get("subject") or f"Phê duyệt kết quả DTI năm {period} — bản {number}"
    return Notice(f"[DTI] {subject}", "\n".join(lines))


def overdue_notice(context: Mapping[str, Any]) -> Notice:
    """The deadline alert's context is small: the DAG run (as the API shows it) and the deadline."""
    run = dict(context.get("dag_run") or {})
    deadline = dict(context.get("deadline") or {})
    dag_id = run.get("dag_id", "?")
    orchestration = load_orchestration_settings()
    minutes = orchestration.run_deadline.total_seconds() / 60
    body = "\n".join(
        [
            f"DAG {dag_id} run {run.get('dag_run_id') or run.get('run_id')} is still "
            f"{run.get('state', 'running')} past its deadline {deadline.get('deadline_time')} "
            f"({minutes:g} min after it was queued at {run.get('queued_at')}, "
            "DTI_RUN_DEADLINE_MINUTES).",
            "",
            "Look at its running task's log in the Airflow UI: a task waiting for the "
            "dti_duckdb pool, a dbt build or a push to the DTI site that does not end.",
        ]
    )
    return Notice(f"[DTI] {dag_id} run past its deadline", body)


def reminder_notice(report) -> Notice:
    """The units still missing answers of ``report`` (``pipeline.missing.MissingReport``)."""
    body = "\n".join(
        [
            report.render(),
            "",
            "The same list: dti missing --period "
            f"{report.period} (add --json for a spreadsheet-friendly list).",
        ]
    )
    late = sum(not u.submitted for u in report.units)
    return Notice(
        f"[DTI] {report.period}: {len(report.units)} unit(s) still missing answers, {late} "
        f"not submitted — deadline {report.deadline}",
        body,
    )


COMPOSERS = {
    "failure": failure_notice,
    "approval": approval_notice,
    "overdue": overdue_notice,
}


# --- how it is sent ----------------------------------------------------------------------------


def smtp_connection(orchestration: OrchestrationSettings) -> str | None:
    """The ``dti_smtp`` connection as Airflow reads it from ``AIRFLOW_CONN_DTI_SMTP`` (JSON)."""
    if not orchestration.smtp_host:
        return None
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": orchestration.smtp_host,
            "port": orchestration.smtp_port,
            "login": orchestration.smtp_user,
            "password": orchestration.smtp_password,
            "extra": {
                "disable_ssl": True,
                "disable_tls": not orchestration.smtp_starttls,
                "from_email": orchestration.mail_from,
                "timeout": 30,
                "retry_limit": 2,
            },
        }
    )


_made: dict[str, str] = {}  # the connection this process made from the settings


def _ensure_smtp_connection(orchestration: OrchestrationSettings) -> None:
    """An ``AIRFLOW_CONN_DTI_SMTP`` the deployment set wins; else it is made from the settings."""
    uri = smtp_connection(orchestration)
    variable = f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}"
    if uri is not None and os.environ.get(variable) in (None, _made.get(variable)):
        os.environ[variable] = _made[variable] = uri


def send(notice: Notice, context: Mapping[str, Any] | None = None) -> list[str]:
    """Sends ``notice`` by every configured channel; returns the channels it went out on.

    A channel that fails is logged and the others still go: a notice must never hide the
    failure it reports.
    """
    orchestration = load_orchestration_settings()
    sent: list[str] = []
    if orchestration.smtp_host and orchestration.mail_to:
        try:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            _ensure_smtp_connection(orchestration)
            mail = SmtpNotifier(
                to=list(orchestration.mail_to),
                from_email=orchestration.mail_from,
                subject=notice.subject,
                html_content=notice.html(),
                smtp_conn_id=SMTP_CONN_ID,
            )
            # Already composed: the text is not a template (a failing row may hold "{{").
            mail.notify(dict(context or {}))
            sent.append("email")
        except Exception:
            log.exception("could not e-mail %r to %s", notice.subject, orchestration.mail_to)
    elif orchestration.smtp_host or orchestration.mail_to:
        log.warning("set both DTI_SMTP_HOST and DTI_MAIL_TO to e-mail notices")
    if orchestration.webhook_url:
        try:
            post_webhook(orchestration.webhook_url, notice)
            sent.append("webhook")
        except Exception:
            log.exception("could not post %r to the webhook", notice.subject)
    if not sent:
        log.info("notice not sent (no channel configured): %s", notice.subject)
    return sent


# A run of backticks would close the code block the body is posted in (Slack closes it on
# ``` anywhere, Markdown at a line's start): each is written as the look-alike U+02CB.
_FENCE = re.compile("`{3,}")


def webhook_text(text: str) -> str:
    """``text`` as Slack's and Mattermost's markup shows it and never acts on it: ``& < >``
    escaped (Slack's control characters: ``<!channel>``, ``<@user>``, ``<url|label>``, which
    Mattermost translates too) and no run of backticks that could end the code block."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _FENCE.sub(lambda m: "\u02cb" * len(m.group()), text)


def post_webhook(url: str, notice: Notice, timeout: float = 30) -> int:
    """Slack's and Mattermost's incoming-webhook format: ``{"text": ...}``, the subject in
    bold and the body in a code block, both through ``webhook_text``."""
    subject = webhook_text(notice.subject).replace("*", "\u2217")  # an asterisk would end the bold
    text = f"*{subject}*\n```\n{webhook_text(notice.body)}\n```"
    payload = json.dumps({"text": text}).encode()
    request = urllib.request.Request(
        url, data=payload, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


class DtiNotifier(BaseNotifier):
    """Airflow notifier of the DTI notices: ``kind`` is failure, approval or overdue.

    Used as a task's ``on_failure_callback``, as the approval task's ``notifiers``, and (the
    class itself, awaited in the triggerer) as the callback of the runs' ``DeadlineAlert``.
    """

    def __init__(self, kind: str = "failure", context: Any = None, **kwargs: Any) -> None:
        if kind not in COMPOSERS:
            raise ValueError(f"unknown notice {kind!r}; one of {', '.join(COMPOSERS)}")
        super().__init__(context=context)
        self.kind = kind

    def notify(self, context: Any) -> None:
        try:
            notice = COMPOSERS[self.kind](context)
        except Exception:
            log.exception("could not compose the %s notice", self.kind)
            return
        send(notice, context)

    async def async_notify(self, context: Any) -> None:
        await asyncio.to_thread(self.notify, context)
