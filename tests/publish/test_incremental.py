"""An incremental publish renders only the unit pages whose inputs changed, and its bundle is
byte for byte the bundle a full render from scratch gives."""

import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from dti.settings import Settings
from publish import incremental
from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import UnitSpec, make_warehouse, passing_runs

PERIOD = 2023
BUILT_AT = datetime(2024, 2, 1, 3, 0, tzinfo=UTC)


def _units() -> list[UnitSpec]:
    """Two rank groups of departments and a block of districts."""

    def so(code: str, name: str, group: str, nts1: D, hts1: D, appraisal: D | None = None):
        answers = {"NTS.1": (nts1, appraisal), "NTS.2": (D(8), None), "HTS.1": (hts1, None)}
        return UnitSpec(code, name, "so_nganh", answers, rank_group=group)

    return [
        so("SO-A", "Sở Nội vụ", "dich-vu-cong", D(10), D(24)),
        so("SO-B", "Sở Tài chính", "dich-vu-cong", D(9), D(20), appraisal=D(7)),
        so("SO-C", "Sở Y tế", "dich-vu-cong", D(6), D(15)),
        so("SO-D", "Sở Xây dựng", "dich-vu-cong", D(4), D(10)),
        so("SO-E", "Ban Dân tộc", "khac", D(10), D(22)),
        so("SO-F", "Sở Ngoại vụ", "khac", D(8), D(18)),
        so("SO-G", "Sở Tư pháp", "khac", D(5), D(12)),
        UnitSpec("QH-1", "Quận 1", "quan_huyen", {"CQS.1": (D(60), None), "CQS.2": (D(30), None)}),
        UnitSpec("QH-3", "Quận 3", "quan_huyen", {"CQS.1": (D(40), None), "CQS.2": (D(35), None)}),
    ]


def _with(units: list[UnitSpec], code: str, **answers: tuple[D | None, D | None]):
    for unit in units:
        if unit.code == code:
            unit.answers = {**unit.answers, **answers}
    return units


def _publish(settings: Settings, caplog) -> int:
    """Publishes and returns how many unit pages were rendered."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="publish.bundle"):
        write_bundle(settings, PERIOD, passing_runs(PERIOD), built_at=BUILT_AT)
    (rendered,) = re.findall(r"(\d+) unit pages rendered", caplog.text)
    return int(rendered)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _without_built_at(data: bytes) -> dict:
    manifest = json.loads(data)
    manifest.pop("built_at")
    return manifest


def _assert_same_as_a_full_render(settings: Settings, history: Path, tmp_path: Path, caplog):
    """Renders the same warehouse from scratch over the same earlier bundles (a copy of the
    out folder before the incremental publish, and a copy of the warehouse: no page store)
    and compares every file, releases included."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    shutil.copy2(settings.warehouse, scratch / "warehouse.duckdb")
    shutil.copytree(history, scratch / "out")
    full = settings.with_paths(warehouse=scratch / "warehouse.duckdb", out=scratch / "out")
    assert _publish(full, caplog) == len(list((settings.out / str(PERIOD) / "don-vi").iterdir()))

    incremental_files = _tree(settings.out / str(PERIOD))
    full_files = _tree(full.out / str(PERIOD))
    assert sorted(incremental_files) == sorted(full_files)
    for path, data in full_files.items():
        if path.endswith("manifest.json"):
            assert _without_built_at(incremental_files[path]) == _without_built_at(data), path
        else:
            assert incremental_files[path] == data, path


def _republish(
    settings: Settings, tmp_path: Path, caplog, change: Callable[[], None]
) -> tuple[int, Path]:
    """Publishes, applies ``change``, publishes again; returns the pages rendered the second
    time and a copy of the out folder as it was before the second publish."""
    assert _publish(settings, caplog) == len(_units())  # the first bundle: every page
    history = tmp_path / "history"
    shutil.copytree(settings.out, history)
    change()
    return _publish(settings, caplog), history


def _rebuild(settings: Settings, units: list[UnitSpec]) -> None:
    settings.warehouse.unlink()
    make_warehouse(settings.warehouse, PERIOD, units)


@pytest.fixture
def published(settings: Settings) -> Settings:
    make_warehouse(settings.warehouse, PERIOD, _units())
    return settings


def test_a_revised_self_answer_rerenders_only_that_units_page(published, tmp_path, caplog):
    # SO-B's NTS.1 is appraised: a new self answer moves its self score, nothing else.
    units = _with(_units(), "SO-B", **{"NTS.1": (D(10), D(7))})
    rendered, history = _republish(published, tmp_path, caplog, lambda: _rebuild(published, units))
    assert rendered == 1

    bundle = published.out / str(PERIOD)
    kept = bundle / "releases" / "1"  # results.json changed (self_score): a new release
    assert kept.is_dir()
    linked = [
        p.name
        for p in (bundle / "don-vi").iterdir()
        if p.stat().st_ino == (kept / "don-vi" / p.name).stat().st_ino
    ]
    assert sorted(linked) == sorted(f"{u.code}.html" for u in _units() if u.code != "SO-B")
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)


def test_a_unit_overtaking_others_rerenders_its_rank_group_and_block(published, tmp_path, caplog):
    # SO-D climbs from last to first in its group: ranks move there and the block's medians
    # move, which every department page shows; the districts' pages stay.
    units = _with(_units(), "SO-D", **{"NTS.1": (D(10), None), "HTS.1": (D(25), None)})
    rendered, history = _republish(published, tmp_path, caplog, lambda: _rebuild(published, units))
    assert rendered == 7
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)
    manifest = json.loads((published.out / str(PERIOD) / "manifest.json").read_bytes())
    assert manifest["release"]["number"] == 2 and manifest["release"]["previous_release"] == 1
    assert {c["unit_code"] for c in manifest["changes"]} == {"SO-A", "SO-B", "SO-C", "SO-D"}


def test_ranks_moving_in_one_group_leave_the_other_groups_pages(published, tmp_path, caplog):
    # SO-B and SO-C swap their pillar scores: they swap ranks, the block's medians stay.
    units = _with(_units(), "SO-C", **{"NTS.1": (D(7), None), "HTS.1": (D(20), None)})
    units = _with(units, "SO-B", **{"NTS.1": (D(9), D(6)), "HTS.1": (D(15), None)})
    rendered, history = _republish(published, tmp_path, caplog, lambda: _rebuild(published, units))
    # the two that swap, and the two whose Giải trình kết quả names them as the units just
    # above or below (publish.explanation); no district page
    assert rendered == 4
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)


def test_identical_results_reuse_every_page_in_place(published, tmp_path, caplog):
    rendered, history = _republish(published, tmp_path, caplog, lambda: None)
    assert rendered == 0
    assert not (published.out / str(PERIOD) / "releases").exists()
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)


def test_last_periods_results_appearing_rerender_every_page(published, tmp_path, caplog):
    def score_2022() -> None:  # in the warehouse: whether 2022 is published does not matter
        make_warehouse(published.warehouse, PERIOD - 1, _units())

    rendered, history = _republish(published, tmp_path, caplog, score_2022)
    assert rendered == len(_units())
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)


def test_a_page_changed_on_disk_is_rendered_again(published, tmp_path, caplog):
    def tamper() -> None:
        page = published.out / str(PERIOD) / "don-vi" / "SO-A.html"
        page.write_bytes(
            page.read_bytes().replace(b"S\xe1\xbb\x9f N\xe1\xbb\x99i v\xe1\xbb\xa5", b"X")
        )

    rendered, _ = _republish(published, tmp_path, caplog, tamper)
    assert rendered == 1
    # Release 1 no longer holds what its manifest lists: the repaired files are release 2.
    bundle = published.out / str(PERIOD)
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    assert manifest["release"]["number"] == 2 and manifest["changes"] == []
    assert (
        b"S\xe1\xbb\x9f N\xe1\xbb\x99i v\xe1\xbb\xa5" in (bundle / "don-vi/SO-A.html").read_bytes()
    )


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda store: store.unlink(), id="store missing"),
        pytest.param(lambda store: store.write_text("{not json", encoding="utf-8"), id="corrupt"),
        pytest.param(lambda store: store.write_text("[]", encoding="utf-8"), id="not an object"),
        pytest.param(
            lambda store: store.write_text(
                store.read_text(encoding="utf-8").replace('"pages":{', '"pages":{"x":[1],'),
                encoding="utf-8",
            ),
            id="bad entry",
        ),
        pytest.param(
            lambda store: (store.parent.parent.parent / "out" / "2023" / "manifest.json").unlink(),
            id="manifest missing",
        ),
    ],
)
def test_any_doubt_about_the_page_store_gives_a_full_render(published, tmp_path, caplog, spoil):
    store = incremental.store_path(published.work_dir, PERIOD)
    rendered, history = _republish(published, tmp_path, caplog, lambda: spoil(store))
    assert rendered == len(_units())


def test_another_renderer_gives_a_full_render(published, tmp_path, caplog, monkeypatch):
    def new_renderer() -> None:
        monkeypatch.setattr(incremental, "RENDERER_VERSION", "a newer site.py")

    rendered, _ = _republish(published, tmp_path, caplog, new_renderer)
    assert rendered == len(_units())


def test_the_renderer_version_covers_every_publish_module():
    sources = sorted(p.name for p in Path(incremental.__file__).parent.glob("*.py"))
    assert {"site.py", "charts.py", "marts.py", "numbers.py", "collation.py"} <= set(sources)
    assert re.fullmatch(r"[0-9a-f]{64}", incremental.RENDERER_VERSION)


def test_unit_pages_that_disappear_are_not_kept(published, tmp_path, caplog):
    units = [u for u in _units() if u.code != "SO-G"]
    rendered, history = _republish(published, tmp_path, caplog, lambda: _rebuild(published, units))
    assert not (published.out / str(PERIOD) / "don-vi" / "SO-G.html").exists()
    assert rendered < len(units)
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)
    assert os.path.isfile(published.out / str(PERIOD) / "releases" / "1" / "don-vi" / "SO-G.html")


def _same_file(a: Path, b: Path) -> bool:
    return a.stat().st_ino == b.stat().st_ino


def test_a_revision_in_one_block_keeps_the_other_blocks_files(published, tmp_path, caplog):
    # SO-B's new self answer moves only the departments' block: the districts' results and
    # answers files and the methodology page are the files of release 1.
    units = _with(_units(), "SO-B", **{"NTS.1": (D(10), D(7))})
    _, history = _republish(published, tmp_path, caplog, lambda: _rebuild(published, units))
    bundle = published.out / str(PERIOD)
    kept = bundle / "releases" / "1"
    for name in (
        "results_quan_huyen.csv",
        "results_quan_huyen.xlsx",
        "answers_quan_huyen.csv",
        "answers_quan_huyen.xlsx",
        "phuong-phap.html",
    ):
        assert _same_file(bundle / name, kept / name), name
    for name in ("results.json", "index.html", "results_so_nganh.csv", "results_so_nganh.xlsx"):
        assert not _same_file(bundle / name, kept / name), name
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)


def test_a_rank_group_changing_renders_the_methodology_again(published, tmp_path, caplog):
    # The methodology page counts the units of each rank group; no other input of it moves.
    units = _units()
    for unit in units:
        if unit.code == "SO-G":
            unit.rank_group = "dich-vu-cong"
    _, history = _republish(published, tmp_path, caplog, lambda: _rebuild(published, units))
    bundle = published.out / str(PERIOD)
    assert not _same_file(bundle / "phuong-phap.html", bundle / "releases/1/phuong-phap.html")
    assert _same_file(
        bundle / "results_quan_huyen.csv", bundle / "releases/1/results_quan_huyen.csv"
    )
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)


def _place(warehouse: Path, latitudes: dict[str, str]) -> None:
    """Places the districts on the map (marts.dim_unit_locations)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "create or replace table marts.dim_unit_locations (unit_code varchar, "
            "official_code varchar, division_type varchar, latitude decimal(9, 6), "
            "longitude decimal(9, 6))"
        )
        for code, latitude in latitudes.items():
            con.execute(
                "insert into marts.dim_unit_locations values (?, ?, 'quan', ?, 106.7)",
                [code, code, latitude],
            )
    finally:
        con.close()


def test_a_unit_moving_on_the_map_renders_its_map_page_again(published, tmp_path, caplog):
    _place(published.warehouse, {"QH-1": "10.77", "QH-3": "10.78"})
    map_page = "ban-do-quan_huyen.html"
    _, history = _republish(
        published,
        tmp_path,
        caplog,
        lambda: _place(published.warehouse, {"QH-1": "10.77", "QH-3": "10.70"}),
    )
    bundle = published.out / str(PERIOD)
    assert (bundle / map_page).is_file()
    assert not _same_file(bundle / map_page, bundle / "releases/1" / map_page)
    assert _same_file(
        bundle / "results_quan_huyen.csv", bundle / "releases/1/results_quan_huyen.csv"
    )
    _assert_same_as_a_full_render(published, history, tmp_path, caplog)


def test_unchanged_model_docs_are_linked_from_the_latest_release(published, tmp_path, caplog):
    docs = tmp_path / "dbt_docs.html"
    docs.write_bytes("<html>Tài liệu mô hình</html>".encode())

    def publish() -> Path:
        write_bundle(published, PERIOD, passing_runs(PERIOD), built_at=BUILT_AT, model_docs=docs)
        return (published.out / str(PERIOD) / "audit" / "dbt_docs.html").resolve()

    first = publish()
    first_inode = first.stat().st_ino
    _rebuild(published, _with(_units(), "SO-B", **{"NTS.1": (D(10), D(7))}))
    second = publish()
    assert second != first and second.stat().st_ino == first_inode

    docs.write_bytes("<html>Tài liệu mô hình, bản mới</html>".encode())
    _rebuild(published, _with(_units(), "SO-B", **{"NTS.1": (D(9), D(7))}))
    third = publish()
    assert third.stat().st_ino != first_inode
    assert third.read_bytes() == docs.read_bytes()
