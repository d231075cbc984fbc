"""The Data Docs of a demo run open in headless Chromium and show the four suites."""

from __future__ import annotations

import json
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
    assert "Expectation Suite: scores" in page  # the suite was renamed with the checkpoints
    assert "Status: Failed" in page
    # the critical level check and the warning about units that submitted nothing
    assert "Unsuccessful Expectations\n2" in page
    stored = Path(failed.value.run.validation_result_path).read_text(encoding="utf-8")
    assert "QH-NB" in stored


# Every host name resolves to nothing: a page that needs the internet fails to load something.
NO_NETWORK = "--host-resolver-rules=MAP * ~NOTFOUND"


def _network_events(driver) -> list[dict]:
    events = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"].startswith("Network."):
            events.append(message)
    return events


@pytest.mark.e2e
def test_data_docs_load_with_the_network_blocked(warehouse: Settings, tmp_path: Path) -> None:
    """Index and run pages: no request fails, no request leaves the machine, the pass/fail
    icons are drawn and our verdict is on top."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    runs = [validate_checkpoint(warehouse, c, PERIOD) for c in ("framework", "submissions")]
    index = data_docs_index(warehouse)
    pages = [index, *(Path(r.report_path) for r in runs)]
    with headless_chromium(tmp_path / "offline-profile", NO_NETWORK, log_network=True) as driver:
        # Chromium's own start page asks the network for things: drain its events first.
        driver.get("about:blank")
        driver.get_log("performance")
        for page in pages:
            driver.get(page.as_uri())
            WebDriverWait(driver, 20).until(
                lambda d: (
                    d.find_elements(By.CSS_SELECTOR, "#dti-verdict")
                    and d.find_elements(By.CSS_SELECTOR, ".fa-check-circle")
                )
            )
            events = _network_events(driver)
            requests = {
                e["params"]["requestId"]: e["params"]["request"]["url"]
                for e in events
                if e["method"] == "Network.requestWillBeSent"
            }
            failed = [
                (requests.get(e["params"]["requestId"]), e["params"]["errorText"])
                for e in events
                if e["method"] == "Network.loadingFailed"
            ]
            assert failed == [], (page, failed)
            urls = list(requests.values())
            assert urls and all(u.startswith(("file:", "data:")) for u in urls), (page, urls)
            icons = driver.find_elements(By.CSS_SELECTOR, ".fa-check-circle")
            drawn = driver.execute_script(
                "return getComputedStyle(arguments[0], '::before').content", icons[0]
            )
            assert drawn == '"✔"' and icons[0].size["width"] > 0
            verdict = driver.find_element(By.CSS_SELECTOR, "#dti-verdict").text
            assert "DTI verdict" in verdict
        # the submissions run passed with warnings: our verdict says so, with the warning
        assert "passed with warnings" in verdict and "self_answers_on_time" in verdict
