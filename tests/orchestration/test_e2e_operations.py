"""End to end on a real Airflow: the people of DTI_MAIL_TO are told, by a real SMTP server.

One stack (LocalExecutor) with an aiosmtpd server on loopback, real logins (the FAB auth
manager) and a council of three named approvers who sign, two of whom must approve, and a run
deadline of a few seconds: a publication asks for approval by e-mail (what and where), only
the approvers may answer and the release becomes current at the second approval, the approver
reads the prompt in the Airflow UI (headless Chromium, screenshot in scratch/screenshots/), a
run past its deadline raises the DeadlineAlert, a failed gate is mailed with its suite, check
and report, and the reminder DAG mails the units still missing answers.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dti.settings import PROJECT_ROOT, load_settings
from pipeline import jobs
from testkit.airflow_stack import (
    E2EStack,
    answer_approval,
    api_token,
    approval_details,
    drop_submission,
    results_unit,
    running_stack,
    units_of,
    wait_for,
)
from tests.browser import headless_chromium
from tests.orchestration.smtp_server import SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

PIPELINE_TIMEOUT = 300
SCREENSHOTS = PROJECT_ROOT / "scratch" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.close()


COUNCIL = (("an", "Nguyễn Văn An"), ("binh", "Trần Thị Bình"), ("chi", "Lê Minh Chi"))


def _council(folder: Path) -> dict[str, str]:
    """Three named approvers, their private keys on the server (DTI_APPROVAL_KEYS_DIR)."""
    from publish.council import COLUMNS, generate_key_pair

    keys = folder / "keys"
    lines = [",".join(COLUMNS)]
    for approver_id, name in COUNCIL:
        lines.append(f"{approver_id},{name},{generate_key_pair(approver_id, keys)[1]},,")
    (folder / "approvers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "DTI_APPROVERS": str(folder / "approvers.csv"),
        "DTI_APPROVAL_QUORUM": "2",
        "DTI_APPROVAL_SIGNING": "true",
        "DTI_APPROVAL_KEYS_DIR": str(keys),
    }


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[E2EStack]:
    base = tmp_path_factory.mktemp("airflow_ops")
    env = {
        **smtp.env("ict@example.gov.vn"),
        **_council(base / "council"),  # a named council: every release waits for it
        "DTI_RUN_DEADLINE_MINUTES": "0.1",  # 6 s: every pipeline run here is past it
    }
    with running_stack(base, _free_port(), env=env, auth_manager="fab") as stack:
        yield stack


def _approve_when_parked(e2e: E2EStack) -> str:
    parked = wait_for(
        "the approval task waiting for a person",
        lambda: e2e.query(
            "select run_id from task_instance where dag_id = 'dti_approve' "
            "and task_id = 'approve_release' and state = 'awaiting_input'"
        ),
        PIPELINE_TIMEOUT,
        e2e.stack,
    )
    return parked[0][0]


def _assigned(e2e: E2EStack, run_id: str) -> list[str]:
    """Who the prompt of ``run_id`` is assigned to (the approvers who may still answer)."""
    return sorted(u["id"] for u in approval_details(e2e.cfg, run_id)["assigned_users"])


def test_an_approval_request_is_mailed_with_what_and_where(e2e: E2EStack, smtp: SmtpServer):
    unit = units_of("so_nganh")[0]
    drop_submission(e2e.inbox, unit)
    run_id = _approve_when_parked(e2e)

    mail = smtp.wait_for(lambda m: m.subject.startswith("[DTI] Phê duyệt"), 60)
    assert mail.recipients == ["ict@example.gov.vn"]
    assert re.fullmatch(
        r"\[DTI\] Phê duyệt kết quả DTI năm 2023 — bản \d+ \(chính thức\)", mail.subject
    )
    # what: the draft release, its checks and where to look at it before it goes live
    assert re.search(r"Kết quả DTI năm 2023: bản \d+ chờ phê duyệt", mail.text), mail.text
    assert re.search(r"\.releases/2023/\d+/index\.html", mail.text), mail.text
    assert str(e2e.out) not in mail.text  # a folder of OUT, never a path of the server
    assert "- Kiểm định dữ liệu: **đạt**." in mail.text
    link = f"{e2e.cfg.api_url}/dags/dti_approve/runs/{run_id}/tasks/approve_release"
    assert link in mail.text  # where: Required actions of this very task

    time.sleep(
        15
    )  # a person opens Required actions (an instant answer races, see docs/operating.md)
    # the council of three, two of whom must approve: nobody else may answer, not even admin
    assert _assigned(e2e, run_id) == ["an", "binh", "chi"]
    assert answer_approval(e2e.cfg, run_id, "Approve", "ok", user="admin") == 403
    assert answer_approval(e2e.cfg, run_id, "Approve", "đã rà soát", user="an") == 200
    # one approval of two: the next approver's prompt, and nothing published yet
    second = wait_for(
        "the second approver's prompt",
        lambda: [r for (r,) in e2e.query(
            "select run_id from task_instance where dag_id = 'dti_approve' "
            "and task_id = 'approve_release' and state = 'awaiting_input'"
        ) if r != run_id],
        PIPELINE_TIMEOUT,
        e2e.stack,
    )[0]  # fmt: skip
    assert second.endswith("__2")
    assert (results_unit(e2e.out, unit) or {}).get("status") != "scored"
    time.sleep(5)
    assert _assigned(e2e, second) == ["binh", "chi"]
    assert answer_approval(e2e.cfg, second, "Approve", "lại", user="an") == 403
    assert answer_approval(e2e.cfg, second, "Approve", "đồng ý", user="binh") == 200
    e2e.wait_idle(PIPELINE_TIMEOUT)
    assert results_unit(e2e.out, unit)["status"] == "scored"  # current once approved
    release = json.loads((e2e.out / "2023" / "manifest.json").read_bytes())["release"]
    assert [(a["approver"], a["name"], a["reason"]) for a in release["approvals"]] == [
        ("an", "Nguyễn Văn An", "đã rà soát"),
        ("binh", "Trần Thị Bình", "đồng ý"),
    ]
    assert all(a["at"].endswith("Z") and a["signature"] for a in release["approvals"])
    assert release["approvals"][0]["at"] <= release["approvals"][1]["at"] == release["approved_at"]
    # what `dti audit` and `dti publish` check holds
    verdict = jobs.verify_release(load_settings(e2e.cfg.env()), 2023)
    assert verdict["ok"] and verdict["counted"] == ["an", "binh"], verdict


def _prompt_page(e2e: E2EStack, run_id: str, profile: Path, screenshot: Path) -> str:
    """What the approver sees on the task's Required actions page, logged in as ``chi``, one of
    the council (the UI reads its JWT from the ``_token`` cookie); saves a screenshot."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base = e2e.cfg.api_url
    run = urllib.parse.quote(run_id, safe="")
    page = f"{base}/dags/dti_approve/runs/{run}/tasks/approve_release/required_actions"
    with headless_chromium(profile) as driver:
        driver.get(f"{base}/api/v2/version")  # the cookie's origin first
        driver.add_cookie({"name": "_token", "value": api_token(e2e.cfg, "chi"), "path": "/"})
        driver.get(page)
        WebDriverWait(driver, 120).until(
            lambda d: "Đơn vị thay đổi kết quả" in d.find_element(By.TAG_NAME, "body").text
        )
        # the answer buttons are part of what the approver sees
        WebDriverWait(driver, 30).until(
            lambda d: d.find_elements(By.XPATH, "//button[normalize-space()='Reject']")
        )
        text = driver.find_element(By.TAG_NAME, "body").text
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1400, max(1000, min(int(height) + 200, 4000)))
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
    return text


def test_the_approver_reads_the_prompt_in_the_airflow_ui(e2e: E2EStack, tmp_path: Path):
    """The second draft of 2023 (release 1 is live since the test above): the Required actions
    page names the release, the period, the unit that moves (old → new) and the warnings; Reject
    leaves OUT/2023 on release 1."""
    e2e.wait_idle(PIPELINE_TIMEOUT)
    live = e2e.out / "2023" / "manifest.json"
    before = json.loads(live.read_bytes())["release"]["number"]
    unit = units_of("quan_huyen")[1]  # not submitted until now: it gets a level and a rank
    drop_submission(e2e.inbox, unit)
    run_id = _approve_when_parked(e2e)

    screenshot = SCREENSHOTS / "airflow-approval-prompt.png"
    text = _prompt_page(e2e, run_id, tmp_path / "chromium", screenshot)
    assert screenshot.stat().st_size > 10_000
    assert f"Phê duyệt kết quả DTI năm 2023 — bản {before + 1}" in text, text
    assert f"Bản này thay bản {before}" in text, text
    assert f"Đơn vị thay đổi kết quả so với bản {before} (" in text, text
    # the unit's row of the changes table: old → new, "—" where it had no rank
    assert re.search(rf"{re.escape(unit)}\b.{{0,300}}— → \d+", text, re.S), text
    assert "Cảnh báo của kiểm định (" in text and "every_unit_submitted" in text, text
    assert f".releases/2023/{before + 1}/index.html" in text, text

    time.sleep(5)  # an instant answer races the parked task's worker (docs/operating.md)
    assert answer_approval(e2e.cfg, run_id, "Reject", "chờ giải trình", user="chi") == 200
    e2e.wait_idle(PIPELINE_TIMEOUT)
    assert json.loads(live.read_bytes())["release"]["number"] == before
    assert (results_unit(e2e.out, unit) or {}).get("status") != "scored"


def test_a_run_past_its_deadline_raises_the_deadline_alert(e2e: E2EStack, smtp: SmtpServer):
    mail = smtp.wait_for(lambda m: m.subject == "[DTI] dti_transform run past its deadline", 120)
    assert "DTI_RUN_DEADLINE_MINUTES" in mail.text
    wait_for(
        "the deadline marked missed and its callback done",
        lambda: (
            ("dti_transform", "success")
            in e2e.query(
                "select r.dag_id, c.state from deadline d join dag_run r on r.id = d.dagrun_id "
                "join callback c on c.id = d.callback_id where d.missed"
            )
        ),
        60,
        e2e.stack,
    )


def test_a_failed_gate_is_mailed_with_its_suite_check_and_report(e2e: E2EStack, smtp: SmtpServer):
    e2e.wait_idle(PIPELINE_TIMEOUT)
    # A row no ingest would accept, as a hand edit of the warehouse would leave it.
    con = duckdb.connect(str(e2e.warehouse))
    con.execute(
        "insert into raw.submission_rows select * replace ('review' as stage, "
        "submission_id || ':tampered' as submission_id) from raw.submission_rows limit 1"
    )
    con.close()
    try:
        drop_submission(e2e.inbox, units_of("so_nganh")[1])
        mail = smtp.wait_for(lambda m: "gate failed" in m.subject, PIPELINE_TIMEOUT)
        assert mail.subject == "[DTI] validation gate failed: dti_transform.transform"
        assert "suite 'submissions'" in mail.text
        assert "- expectation 'stage_allowed'" in mail.text
        report = next(n["report"] for n in e2e.failure_notes() if n["task_id"] == "transform")
        assert report.endswith(".html") and f"report:  {report}" in mail.text
        e2e.wait_idle(PIPELINE_TIMEOUT)
    finally:
        con = duckdb.connect(str(e2e.warehouse))
        con.execute("delete from raw.submission_rows where submission_id like '%:tampered'")
        con.close()


def _trigger(e2e: E2EStack, dag_id: str, conf: dict) -> str:
    request = urllib.request.Request(
        f"{e2e.cfg.api_url}/api/v2/dags/{dag_id}/dagRuns",
        data=json.dumps({"logical_date": None, "conf": conf}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {api_token(e2e.cfg)}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["dag_run_id"]


def test_the_reminder_dag_mails_the_units_still_missing(e2e: E2EStack, smtp: SmtpServer):
    run_id = _trigger(e2e, "dti_reminders", {"period": 2023})
    state = wait_for(
        "the reminder run",
        lambda: e2e.query(
            "select state from dag_run where dag_id = 'dti_reminders' and run_id = %s "
            "and state in ('success', 'failed')",
            (run_id,),
        ),
        PIPELINE_TIMEOUT,
        e2e.stack,
    )
    assert state == [("success",)]
    mail = smtp.wait_for(lambda m: m.subject.startswith("[DTI] 2023: "), 30)
    assert "deadline 2024-01-31T23:59:59+07:00" in mail.subject
    # only one unit of each block answered (6 indicators): every other unit is listed
    silent = units_of("quan_huyen")[0]
    assert f"{silent:<10}" in mail.text and "not submitted — all" in mail.text
    answered = units_of("so_nganh")[0]
    assert f"  {answered:<10}" in mail.text and "unanswered —" in mail.text


def _lineage_events(e2e: E2EStack) -> list[dict]:
    path = e2e.warehouse.parent / (e2e.warehouse.stem + "_work") / "openlineage" / "events.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _completed(e2e: E2EStack, job: str) -> dict | None:
    return next(
        (
            e
            for e in _lineage_events(e2e)
            if e.get("eventType") == "COMPLETE" and e["job"]["name"] == job
        ),
        None,
    )


def test_openlineage_events_name_the_inputs_and_outputs_of_each_step(e2e: E2EStack):
    """The runs above emitted OpenLineage events (file transport, the default): read them back."""
    from orchestration.lineage import duckdb_database

    warehouse = f"duckdb://{e2e.warehouse}"
    db = duckdb_database(e2e.warehouse)  # the spec's database.schema.table, as dbt-ol says

    def names(datasets: list[dict], namespace: str | None = None) -> set[str]:
        return {d["name"] for d in datasets if namespace is None or d["namespace"] == namespace}

    ingest = wait_for(
        "ingest's COMPLETE event",
        lambda: _completed(e2e, "dti_ingest.ingest_submissions"),
        60,
        e2e.stack,
    )
    assert ingest["job"]["namespace"] == "dti"
    assert str(e2e.inbox) in names(ingest["inputs"], "file")
    raw = {f"{db}.raw.submission_rows", f"{db}.raw.load_ledger"}
    assert raw <= names(ingest["outputs"], warehouse)

    build = _completed(e2e, "dti_transform.transform")
    assert build is not None
    assert f"{db}.raw.submission_rows" in names(build["inputs"], warehouse)
    assert {f"{db}.marts.fct_unit_scores", f"{db}.marts.fct_indicator_points"} <= names(
        build["outputs"], warehouse
    )

    bundle = _completed(e2e, "dti_publish.write_bundle")
    assert bundle is not None
    assert f"{db}.marts.fct_unit_scores" in names(bundle["inputs"], warehouse)
    assert str(e2e.out) in names(bundle["outputs"], "file")
