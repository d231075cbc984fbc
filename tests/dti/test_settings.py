"""Every setting is declared once: read with a message that names it, and documented from there."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dti import settings as module
from dti.settings import (
    PROJECT_ROOT,
    SettingError,
    load_orchestration_settings,
    load_settings,
)


def test_defaults_need_no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.inbox == tmp_path / "data" / "inbox"
    assert settings.archive == tmp_path / "data" / "archive"
    assert settings.max_file_bytes == 200 * 1024 * 1024
    assert settings.portal_api_token is None


def test_an_empty_value_means_the_default() -> None:
    assert load_settings({"DTI_MAX_FILE_BYTES": " "}).max_file_bytes == 200 * 1024 * 1024
    assert load_orchestration_settings({"DTI_TASK_RETRIES": ""}).retries == 2


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5"])
def test_an_unreadable_size_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingError, match=r"DTI_MAX_FILE_BYTES=.*at least 1.*refused whole"):
        load_settings({"DTI_MAX_FILE_BYTES": raw})


def test_orchestration_settings_are_read_in_their_units() -> None:
    read = load_orchestration_settings(
        {
            "DTI_APPROVAL_TIMEOUT_HOURS": "1.5",
            "DTI_RETRY_DELAY_SECONDS": "5",
            "DTI_TASK_RETRIES": "0",
        }
    )
    assert read.approval_timeout == timedelta(minutes=90)
    assert read.retry_delay == timedelta(seconds=5)
    assert read.retries == 0
    assert load_settings({"DTI_PUBLISH_REQUIRES_APPROVAL": "yes"}).publish_requires_approval
    with pytest.raises(SettingError, match="DTI_PUBLISH_REQUIRES_APPROVAL='maybe'"):
        load_settings({"DTI_PUBLISH_REQUIRES_APPROVAL": "maybe"})
    with pytest.raises(SettingError, match="DTI_INBOX_POLL_SECONDS"):
        load_orchestration_settings({"DTI_INBOX_POLL_SECONDS": "0"})


def test_a_secret_is_never_echoed() -> None:
    settings = load_settings({"DTI_PORTAL_API_TOKEN": "s3cret-token"})
    assert "s3cret-token" not in repr(settings)


def test_each_checkout_has_its_own_metadata_database() -> None:
    default = load_orchestration_settings({}).metadata_database
    assert default.startswith("dti_airflow_") and len(default) == len("dti_airflow_") + 8
    assert load_orchestration_settings({"DTI_AIRFLOW_DB": "mine"}).metadata_database == "mine"


def test_settings_guide_and_env_example_list_every_setting_as_declared() -> None:
    readme = (PROJECT_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    env_example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    stale = "stale: run `.venv/bin/python -m dti.settings` and commit the result"
    assert module.with_generated(readme, module.TABLE_MARKERS, module.markdown_table()) == readme, (
        stale
    )
    assert module.with_generated(env_example, module.ENV_MARKERS, module.env_example()) == (
        env_example
    ), stale
    for setting in module.declared():
        assert f"| `{setting.env}` |" in readme and f"\n{setting.env}=" in env_example


@pytest.mark.parametrize(
    "env",
    [
        "DTI_MAX_COLUMNS", "DTI_MAX_LINE_BYTES", "DTI_MAX_CELLS", "DTI_MAX_JSON_DEPTH",
        "DTI_MAX_SHEETS", "DTI_PORTAL_MAX_PAGES", "DTI_PORTAL_MAX_PAGE_BYTES",
        "DTI_PORTAL_REQUEST_SECONDS", "DTI_PORTAL_PULL_SECONDS",
    ],
)  # fmt: skip
@pytest.mark.parametrize("raw", ["abc", "0", "-1"])
def test_every_limit_is_refused_unreadable_naming_its_variable(env: str, raw: str) -> None:
    with pytest.raises(SettingError, match=f"{env}={raw!r}: expected"):
        load_settings({env: raw})
    assert load_settings({env: ""}) == load_settings({})  # empty: the safe default


def _number_settings() -> list[tuple[str, object]]:
    """Every setting read as a number, a duration or a list of numbers, with its loader."""
    from dataclasses import fields

    from dti.settings import OrchestrationSettings, Settings

    numeric = {
        module.positive_int, module.non_negative_int,
        module.positive_float, module.seconds, module.minutes,
        module.hours, module.day_counts,
    }  # fmt: skip
    loaders = {Settings: load_settings, OrchestrationSettings: load_orchestration_settings}
    return [
        (f.metadata["env"], load)
        for cls, load in loaders.items()
        for f in fields(cls)
        if f.metadata.get("parse") in numeric
    ]


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "NaN", "Infinity", "1e999"])
def test_nan_and_infinity_are_refused_for_every_number_setting(raw: str) -> None:
    """A pull deadline of nan never fires and one of inf never ends (issue 26)."""
    settings = dict(_number_settings())
    assert {"DTI_PORTAL_PULL_SECONDS", "DTI_APPROVAL_TIMEOUT_HOURS"} <= settings.keys()
    for env, load in settings.items():
        with pytest.raises(SettingError, match=f"{env}="):
            load({env: raw})


SMTP = {"DTI_SMTP_HOST": "mail.example.gov.vn", "DTI_SMTP_USER": "dti", "DTI_SMTP_PASSWORD": "pw"}


def test_smtp_credentials_are_refused_without_tls() -> None:
    with pytest.raises(SettingError, match="DTI_SMTP_STARTTLS=true") as refused:
        load_orchestration_settings(SMTP)
    assert "không mã hoá" in str(refused.value) and "pw" not in str(refused.value)
    with pytest.raises(SettingError):
        load_orchestration_settings({**SMTP, "DTI_SMTP_USER": ""})  # a password alone too
    assert load_orchestration_settings({**SMTP, "DTI_SMTP_STARTTLS": "true"}).smtp_starttls
    for host in ("localhost", "127.0.0.1", "::1", "[::1]"):
        assert load_orchestration_settings({**SMTP, "DTI_SMTP_HOST": host}).smtp_user == "dti"
    # no credentials, no refusal: a relay that takes mail from this host
    assert load_orchestration_settings({"DTI_SMTP_HOST": "mail.example.gov.vn"}).smtp_host


def test_an_archive_chosen_in_the_environment_stays_when_the_warehouse_moves(
    tmp_path: Path,
) -> None:
    """One rule: a flag beats its variable, which beats the default; the archive's default
    follows the warehouse, but DTI_ARCHIVE is a choice and stays (issue 26)."""
    chosen = load_settings({"DTI_ARCHIVE": str(tmp_path / "kept"), "DTI_WAREHOUSE": "w.duckdb"})
    moved = chosen.with_paths(warehouse=tmp_path / "elsewhere" / "w.duckdb")
    assert moved.warehouse == tmp_path / "elsewhere" / "w.duckdb"
    assert moved.archive == tmp_path / "kept"
    default = load_settings({}).with_paths(warehouse=tmp_path / "elsewhere" / "w.duckdb")
    assert default.archive == tmp_path / "elsewhere" / "archive"
    given = load_settings({}).with_paths(warehouse=tmp_path / "w.duckdb", archive=tmp_path / "a")
    assert given.with_paths(warehouse=tmp_path / "x" / "w.duckdb").archive == tmp_path / "a"


def test_dti_v_names_each_path_and_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from pipeline import cli

    monkeypatch.setenv("DTI_ARCHIVE", str(tmp_path / "kept"))
    monkeypatch.delenv("DTI_WAREHOUSE", raising=False)
    cli.main(["ledger", "-v", "--warehouse", str(tmp_path / "none.duckdb")])
    err = capsys.readouterr().err
    assert f"warehouse {tmp_path / 'none.duckdb'} (--warehouse)" in err
    assert f"archive {tmp_path / 'kept'} (DTI_ARCHIVE)" in err
