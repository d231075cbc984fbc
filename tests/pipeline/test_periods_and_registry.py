"""`dti run`'s periods (repeated, ranges, --all-periods), the order of the steps of a run over
several periods, the registry fingerprint and `dti registry check` on broken registries."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path

import duckdb
import pytest

from dbt_project import runner
from dti.settings import SEEDS_DIR, Settings, load_settings
from ingest.registry import RegistryError, code_problems, load_registry
from pipeline import cli, jobs, steps
from pipeline.registry import check_registry


@pytest.mark.parametrize(
    ("text", "periods"),
    [("2023", [2023]), ("2023-2025", [2023, 2024, 2025]), (" 2024-2024 ", [2024])],
)
def test_a_period_or_a_range(text: str, periods: list[int]) -> None:
    assert cli.period_spec(text) == periods


@pytest.mark.parametrize("text", ["23", "2025-2023", "2023-", "two", "2023-20x5"])
def test_what_is_not_a_period_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cli.period_spec(text)


def test_run_needs_periods_or_all_periods_not_both(capsys) -> None:
    for argv in (["run"], ["run", "--period", "2023", "--all-periods"]):
        assert cli.main(argv) == 1
        assert "--all-periods" in capsys.readouterr().err


def test_repeated_periods_and_ranges_are_merged(monkeypatch) -> None:
    seen = {}

    def run(settings, periods, full_refresh=False, publication="final", progress=None):
        seen["periods"], seen["publication"] = periods, publication
        return []

    monkeypatch.setattr(jobs, "run", run)
    assert cli.main(["run", "--period", "2025", "--period", "2023-2024", "--period", "2024"]) == 0
    assert seen["periods"] == [2023, 2024, 2025]
    assert seen["publication"] == "final"
    assert cli.main(["run", "--all-periods", "--preliminary"]) == 0
    assert seen["periods"] is None and seen["publication"] == "preliminary"


def test_several_periods_share_ingest_seed_and_build(monkeypatch, settings: Settings) -> None:
    calls: list[tuple] = []
    monkeypatch.setattr(
        steps, "ingest_sources", lambda s, sources: calls.append(("ingest",)) or "report"
    )
    monkeypatch.setattr(steps, "seed_registry", lambda s: calls.append(("seed",)))
    monkeypatch.setattr(
        steps, "build_models", lambda s, full_refresh=False: calls.append(("build",))
    )
    monkeypatch.setattr(
        steps,
        "validate_checkpoint",
        lambda s, checkpoint, period: calls.append((checkpoint, period)) or (checkpoint, period),
    )
    monkeypatch.setattr(
        steps,
        "publish_bundle",
        lambda s, p, validation_runs, publication, approval_required, model_docs=None: (
            calls.append(("publish", p)) or Path(f"/out/{p}")
        ),
    )
    monkeypatch.setattr(steps, "periods_with_answers", lambda s: [2023, 2025])

    summaries = jobs.run(settings, None)

    assert calls == [
        ("ingest",), ("seed",),
        ("framework", 2023), ("submissions", 2023), ("framework", 2025), ("submissions", 2025),
        ("build",),
        ("counted_answers", 2023), ("scores", 2023), ("counted_answers", 2025), ("scores", 2025),
        ("publish", 2023), ("publish", 2025),
    ]  # fmt: skip
    assert [s.period for s in summaries] == [2023, 2025]
    assert [c for c, _ in summaries[1].validation_runs] == [
        "framework", "submissions", "counted_answers", "scores",
    ]  # fmt: skip
    assert set(summaries[0].step_seconds) >= {"ingest", "seed", "build", "publish"}


def test_the_registry_dir_comes_from_the_environment_or_the_flag(tmp_path: Path) -> None:
    assert load_settings({}).seeds_dir == SEEDS_DIR
    own = load_settings({"DTI_REGISTRY_DIR": str(tmp_path)})
    assert own.seeds_dir == tmp_path.resolve()
    flagged = own.with_paths(registry_dir=tmp_path / "other")
    assert flagged.seeds_dir == (tmp_path / "other").resolve()


def test_the_fingerprint_follows_the_registry_in_use_not_its_folder(tmp_path: Path) -> None:
    bundled = Settings(warehouse=tmp_path / "w.duckdb")
    copy = tmp_path / "registry"
    shutil.copytree(SEEDS_DIR, copy)
    own = dataclasses.replace(bundled, registry_dir=copy)
    assert runner.project_fingerprint(own) == runner.project_fingerprint(bundled)
    with (copy / "periods.csv").open("a", encoding="utf-8") as f:
        f.write("2026,2027-01-31T23:59:59+07:00,true\n")
    assert runner.project_fingerprint(own) != runner.project_fingerprint(bundled)
    assert [f["file"] for f in runner.registry_checksums(copy)] == sorted(
        p.name for p in SEEDS_DIR.glob("*.csv")
    )


def test_registry_check_names_a_missing_file(tmp_path: Path) -> None:
    copy = tmp_path / "registry"
    shutil.copytree(SEEDS_DIR, copy)
    (copy / "pillars.csv").unlink()
    report = check_registry(Settings(registry_dir=copy))
    assert not report.ok
    assert report.problems == ["missing pillars.csv"]
    assert "registry NOT usable" in report.render()


def test_registry_check_reports_points_that_do_not_add_up(tmp_path: Path, capsys) -> None:
    copy = tmp_path / "registry"
    shutil.copytree(SEEDS_DIR, copy)
    pillars = copy / "pillars.csv"
    pillars.write_text(
        pillars.read_text(encoding="utf-8").replace(",Nhận thức số,30,", ",Nhận thức số,31,"),
        encoding="utf-8",
    )
    assert cli.main(["registry", "check", "--registry", str(copy)]) == 1
    printed = capsys.readouterr().out
    assert "pillars_add_up_to_scale" in printed and "NOT usable" in printed
    assert "sha256" in printed
    assert not list(copy.glob("*.duckdb")) and sorted(p.name for p in copy.iterdir()) == sorted(
        p.name for p in SEEDS_DIR.glob("*.csv")
    ), "nothing is written next to the registry"


def test_registry_check_refuses_a_rank_group_without_a_label(tmp_path: Path) -> None:
    copy = tmp_path / "registry"
    shutil.copytree(SEEDS_DIR, copy)
    (copy / "rank_groups.csv").unlink()
    report = check_registry(Settings(registry_dir=copy))
    assert not report.ok
    [problem] = report.problems
    assert "no label (rank_group_name)" in problem and "SO25-TTTP: khong_cung_cap_dvc" in problem


def _registry_with(tmp_path: Path, file_name: str, edit) -> Path:
    copy = tmp_path / "registry"
    shutil.copytree(SEEDS_DIR, copy)
    path = copy / file_name
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return copy


@pytest.mark.parametrize("block", ["so/../../x", "..", 'x"><script>', "so nganh", "sở_ngành"])
def test_a_block_code_that_could_spell_a_path_or_markup_is_refused(
    tmp_path: Path, capsys, block: str
) -> None:
    """The attack of issue 26: a block that would write results_<block>.csv outside OUT."""
    quoted = '"' + block.replace('"', '""') + '"'  # a CSV field, whatever it holds
    copy = _registry_with(
        tmp_path,
        "units.csv",
        lambda text: text.replace(",Sở Nội vụ,so_nganh,", f",Sở Nội vụ,{quoted},"),
    )
    assert cli.main(["registry", "check", "--registry", str(copy)]) == 1
    printed = capsys.readouterr().out
    assert "PROBLEM: units.csv line 3, block:" in printed and "is not a block code" in printed
    assert "codes become file names and links" in printed and "NOT usable" in printed
    # ingest (and so `dti run`) reads no answer with this registry
    with pytest.raises(RegistryError, match="is not a block code"):
        load_registry(duckdb.connect(), copy)


def test_codes_that_differ_only_by_case_are_refused(tmp_path: Path) -> None:
    copy = _registry_with(
        tmp_path,
        "units.csv",
        lambda text: text + "so-hepza,Ban Quản lý (bản sao),so_nganh,,2023,2024\n",
    )
    report = check_registry(Settings(registry_dir=copy))
    assert not report.ok
    [problem] = report.problems
    assert "unit codes 'SO-HEPZA' (units.csv line 2, unit_code)" in problem
    assert "'so-hepza' (units.csv line" in problem and "differ only by case" in problem


def test_a_period_in_other_digits_is_refused(tmp_path: Path) -> None:
    copy = _registry_with(
        tmp_path, "periods.csv", lambda text: text + "２０２６,2027-01-31T23:59:59+07:00,true\n"
    )
    [problem] = check_registry(Settings(registry_dir=copy)).problems
    assert "'２０２６' is not a period" in problem


def test_every_shipped_code_follows_the_grammar() -> None:
    """HCMC 2023–2025, 168 wards: the grammar refuses nothing the bundled registry holds."""
    assert code_problems(SEEDS_DIR) == []


def test_registry_check_takes_any_number_of_levels_and_refuses_overlaps(tmp_path: Path) -> None:
    """Levels are rows: four grades pass; an overlapping threshold and a ladder that does not
    start at 0 % are refused with the framework, the level and the reason; so is a scored
    indicator with 0 points (only one marked scored = false may have none)."""
    copy = tmp_path / "registry"
    shutil.copytree(SEEDS_DIR, copy)
    levels = copy / "levels.csv"
    lines = [
        line
        for line in levels.read_text(encoding="utf-8").splitlines()
        if not line.startswith("hcm-2025,so_nganh,")
    ]
    lines += [
        "hcm-2025,so_nganh,trung_binh,Trung bình,1,0,#b45309,#fef3c7",
        "hcm-2025,so_nganh,kha,Khá,2,50,#1d4ed8,#dbeafe",
        "hcm-2025,so_nganh,tot,Tốt,3,70,#0e7490,#cffafe",
        "hcm-2025,so_nganh,xuat_sac,Xuất sắc,4,90,#15803d,#dcfce7",
    ]
    text = "\n".join(lines) + "\n"
    text = text.replace(
        "hcm-2023,quan_huyen,nang_cao,Nâng cao,3,80,", "hcm-2023,quan_huyen,nang_cao,Nâng cao,3,55,"
    )
    text = text.replace(
        "hcm-2025,phuong_xa,khoi_dong,Khởi động,1,0,", "hcm-2025,phuong_xa,khoi_dong,Khởi động,1,5,"
    )
    levels.write_text(text, encoding="utf-8")
    indicators = copy / "indicators.csv"
    indicators.write_text(
        indicators.read_text(encoding="utf-8")
        + "hcm-2025,so_nganh,NTS.99,NTS,Số cán bộ chuyên trách,0,tiers,,,,\n",
        encoding="utf-8",
    )
    periods = copy / "periods.csv"  # one period per framework version is enough (and faster)
    periods.write_text(
        "\n".join(line for line in periods.read_text(encoding="utf-8").splitlines()
                  if not line.startswith("2024,")) + "\n",
        encoding="utf-8",
    )  # fmt: skip

    report = check_registry(Settings(registry_dir=copy))

    assert not report.ok
    # the framework suite checks the whole registry in each period: both name every fault
    for period in (2023, 2025):
        failed = {f.split("'")[1]: f for f in report.periods[period]}
        assert set(failed) <= {"levels_ordered", "indicator_methods_known", "tiers_well_formed"}
        levels, zero = failed["levels_ordered"], failed["indicator_methods_known"]
        # two rows, in framework order: the overlap of hcm-2023 (shown), the gap of phuong_xa
        assert "2 failing row(s)" in levels
        assert '"block": "quan_huyen", "level_code": "nang_cao"' in levels
        assert "threshold not above the level before it (overlapping levels)" in levels
        assert '"block": "so_nganh"' not in levels, "four levels in order pass"
        assert "NTS.99" in zero
        assert "a scored indicator with 0 points (mark it scored = false" in zero


def test_a_registry_written_before_levels_csv_still_reads_its_levels(tmp_path: Path) -> None:
    """An operator's folder with the thresholds as frameworks.csv columns and level_labels.csv
    gives the same levels as rows (what dbt reads), the shipped colours included."""
    from dbt_project.runner import levels_of_an_older_registry

    older = tmp_path / "registry"
    older.mkdir()
    (older / "frameworks.csv").write_text(
        "framework_version,block,valid_from,valid_to,scale_max,hinh_thanh_from_pct,"
        "nang_cao_from_pct,source\r\nhcm-2023,so_nganh,2023,2024,330,60,80,x\r\n",
        encoding="utf-8",
    )
    (older / "level_labels.csv").write_text(
        "level_code,level_name,sort_order\nkhoi_dong,Khởi động,1\nhinh_thanh,Hình thành,2\n"
        "nang_cao,Nâng cao,3\n",
        encoding="utf-8",
    )
    shipped = (SEEDS_DIR / "levels.csv").read_text(encoding="utf-8").splitlines()
    assert levels_of_an_older_registry(older).splitlines() == shipped[:4]
    assert levels_of_an_older_registry(SEEDS_DIR) is None
