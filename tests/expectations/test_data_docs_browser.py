"""The Data Docs of a demo run open in headless Chromium and show the four suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from dti.settings import Settings
from expectations.gate import GateFailed, data_docs_index, validate_checkpoint
from tests.browser import headless_chromium
from tests.expectations.gate_warehouse import PERIOD, execute


@pytest.fixture
def browser(tmp_path: Path):
    with headless_chromium(tmp_path / "chromium-profile") as driver:
        yield driver


@pytest.mark.e2e
def test_data_docs_show_the_four_suites_and_a_failed_gate(warehouse: Settings, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    runs = [
        validate_checkpoint(warehouse, stage, PERIOD)
        for stage in ("framework", "submissions", "counted_answers")
    ]
    execute(
        warehouse, "update marts.fct_unit_scores set level = 'nang_cao' where unit_code = 'QH-NB'"
    )
    with pytest.raises(GateFailed) as failed:
        validate_checkpoint(warehouse, "scores", PERIOD)

    index = data_docs_index(warehouse)
    assert index.is_file()
    browser.get(index.as_uri())
    WebDriverWait(browser, 20).until(lambda d: "scores" in d.find_element(By.TAG_NAME, "body").text)
    text = browser.find_element(By.TAG_NAME, "body").text
    for suite in ("framework", "submissions", "counted_answers", "scores"):
        assert suite in text, f"suite {suite} missing from the Data Docs index"
    for run in runs:
        assert run.run_id in text, f"validation run {run.run_id} missing from the index"
    assert failed.value.run.run_id in text

    # the failed run's page names the broken expectation; its stored result keeps the rows
    browser.get(Path(failed.value.run.report_path).as_uri())
    WebDriverWait(browser, 20).until(
        lambda d: "level follows" in d.find_element(By.TAG_NAME, "body").text
    )
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Expectation Suite: scores" in page
    assert "Status: Failed" in page
    # the critical level check and the warning about units that submitted nothing
    assert "Unsuccessful Expectations\n2" in page
    stored = Path(failed.value.run.validation_result_path).read_text(encoding="utf-8")
    assert "QH-NB" in stored
