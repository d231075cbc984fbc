"""A build with nothing new to read is not run at all, and a build that failed is never taken
for a complete one."""

from __future__ import annotations

import pytest

from dbt_project import runner as dbt_runner
from dti.settings import Settings
from tests.dbt_project.test_scoring_models import answer
from tests.dbt_project.warehouse import load_rows, query

LATER = "2024-03-02T00:00:00+07:00"  # loaded after the first build's answers


def _no_dbt(*args, **kwargs):
    raise AssertionError("dbt was invoked")


def test_nothing_new_since_a_successful_build_runs_no_dbt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_rows(settings, [answer("SO-SNV", "NTS.1", "1")])
    dbt_runner.dbt_seed(settings)
    dbt_runner.dbt_build(settings)
    with monkeypatch.context() as patched:
        patched.setattr(dbt_runner, "invoke", _no_dbt)
        assert dbt_runner.dbt_build(settings) is False

    # one more answer: built again, and it counts
    load_rows(settings, [{**answer("SO-SYT", "NTS.1", "1"), "loaded_at": LATER}])
    dbt_runner.dbt_build(settings)
    scored = query(
        settings,
        "select unit_code from marts.fct_unit_scores where status = 'scored' order by 1",
    )
    assert scored == [("SO-SNV",), ("SO-SYT",)]


def test_a_failed_build_is_built_again_with_nothing_new(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_rows(settings, [answer("SO-SNV", "NTS.1", "1")])
    dbt_runner.dbt_seed(settings)
    dbt_runner.dbt_build(settings)
    load_rows(settings, [{**answer("SO-SYT", "NTS.1", "1"), "loaded_at": LATER}])

    def failing(*args, **kwargs):
        raise dbt_runner.DbtFailed("dbt build failed half-way")

    with monkeypatch.context() as patched:
        patched.setattr(dbt_runner, "invoke", failing)
        with pytest.raises(dbt_runner.DbtFailed):
            dbt_runner.dbt_build(settings)
    # no answer arrived since the failed build, yet its work is not taken as done
    dbt_runner.dbt_build(settings)
    scored = query(settings, "select count(*) from marts.fct_unit_scores where status = 'scored'")
    assert scored == [(2,)]


def test_the_model_docs_are_generated_again_only_when_the_project_or_registry_changes(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from dti.settings import DBT_PROJECT_DIR

    seeds = tmp_path / "registry"
    shutil.copytree(DBT_PROJECT_DIR / "seeds", seeds)
    settings = Settings(
        warehouse=tmp_path / "warehouse.duckdb", out=tmp_path / "out", registry_dir=seeds
    )
    generated: list[int] = []

    def docs_generate(settings_: Settings, *args: str) -> None:
        assert args == ("docs", "generate", "--static")
        generated.append(1)
        page = settings_.work_dir / "dbt" / "target" / "static_index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html>page {len(generated)}</html>")

    monkeypatch.setattr(dbt_runner, "invoke", docs_generate)
    first = dbt_runner.dbt_docs(settings)
    # a revision of answers: the same project and registry, the same page, no dbt
    assert dbt_runner.dbt_docs(settings) == first
    assert first.read_text() == "<html>page 1</html>" and len(generated) == 1

    units = seeds / "units.csv"
    units.write_bytes(units.read_bytes() + b"\n")  # the registry changed: generated again
    second = dbt_runner.dbt_docs(settings)
    assert second.read_text() == "<html>page 2</html>" and len(generated) == 2
    assert not first.exists()  # only the page of the project in use is kept
