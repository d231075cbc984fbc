from dataclasses import dataclass
from pathlib import Path

from publish.bundle import write_bundle
from publish.summary import render_summary
from tests.publish.publish_marts_fixture import passing_runs


@dataclass
class Summary:
    period: int
    bundle_dir: Path
    ingest_report: object = None
    validation_runs: list | None = None


def test_summary_counts_levels_top_three_and_ends_with_the_site(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    text = render_summary(Summary(2023, bundle))
    lines = text.splitlines()
    assert lines[-1] == f"Trang kết quả: {bundle / 'index.html'}"
    assert "Sở, ban, ngành (so_nganh): 4 đơn vị được chấm điểm, 1 chưa nộp" in text
    assert "  Nâng cao 3 · Khởi động 1" in lines
    assert "  1. Quận Phú Nhuận — 96,95/100 điểm, Nâng cao" in lines
    assert "Ban Quản lý Khu Nam" not in text  # fourth: not in the top 3
    assert "Kiểm định dữ liệu: 4 bộ kiểm tra, đạt" in text


def test_summary_says_passed_with_its_warnings_instead_of_hiding_them(small_warehouse):
    runs = passing_runs(2023)
    runs[-1].warnings = ["expectation 'every_unit_submitted' — 1 failing row(s): Quận 4"]
    bundle = write_bundle(small_warehouse, 2023, runs)
    lines = render_summary(Summary(2023, bundle)).splitlines()
    at = lines.index("Kiểm định dữ liệu: 4 bộ kiểm tra, đạt, 1 cảnh báo:")
    assert lines[at + 1] == (
        "  - scores: expectation 'every_unit_submitted' — 1 failing row(s): Quận 4"
    )


def test_summary_names_the_ingest_outcome_when_the_report_can_say_it(small_warehouse):
    class Report:
        def summary(self) -> str:
            return "3 files/batches: 2 loaded, 1 refused"

    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    text = render_summary(Summary(2023, bundle, ingest_report=Report()))
    assert "Nhận dữ liệu: 3 files/batches: 2 loaded, 1 refused" in text.splitlines()


def test_summary_of_a_republished_period_says_how_many_units_moved(small_warehouse):
    import duckdb

    write_bundle(small_warehouse, 2023, passing_runs(2023))
    con = duckdb.connect(str(small_warehouse.warehouse))
    con.execute("update marts.fct_unit_scores set rank = 5 where unit_code = 'SO-B'")
    con.close()
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    text = render_summary(Summary(2023, bundle))
    assert "Phát hành lần 2: 1 đơn vị thay đổi điểm, mức độ hoặc hạng so với lần 1" in text


def test_show_ranking_prints_an_aligned_table_per_block(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    lines = render_summary(Summary(2023, bundle), show_ranking=True).splitlines()
    header = next(i for i, line in enumerate(lines) if "Hạng" in line and "Sở" not in line)
    table = lines[header : header + 4]
    assert table[1].split() == ["1", "Quận", "Phú", "Nhuận", "96,95", "100", "96,95", "Nâng", "cao"]
    # Columns line up: every score ends at the same column as its header.
    end = table[0].index("Điểm") + len("Điểm")
    assert all(row[:end].endswith(("96,95", "70,00", "40,00", "Điểm")) for row in table)
    assert any("Sở Xây dựng" in line and "chưa nộp" in line for line in lines)
