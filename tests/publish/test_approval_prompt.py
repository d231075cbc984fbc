"""What an approver reads: the prompt for one period's draft release, in Vietnamese, with the
draft's checksum, level labels from the data, the units that change and a link to the draft."""

from __future__ import annotations

import json
import re
import unicodedata
from decimal import Decimal as D

from markdown_it import MarkdownIt

from publish import releases
from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import make_warehouse, passing_runs, small_units
from tests.publish.test_releases import _republish_with_corrected_appraisal
from tests.publish.test_trends import _add_trend

PERIOD = 2023
DRAFTS_URL = "https://dti.example.gov.vn/ban-nhap/"
# English words of the prompt before it was Vietnamese; none may be left outside code spans
# (commands, paths, the checksum) — a unit or warning from the data may hold any word
ENGLISH = re.compile(
    r"\b(approve|reject|release|validation|replaces|warnings?|period|units?|level|rank|"
    r"passed|none|first|draft|publication|preliminary|final|built|changes?)\b",
    re.IGNORECASE,
)


def _manifest(path):
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def _prose(body: str) -> str:
    """The body without code spans and link targets: what is written in words."""
    return re.sub(r"\]\([^)]*\)|`[^`]*`", "", body)


def _store(settings):
    return releases.ReleaseStore(settings.out, PERIOD)


def _second_draft(settings):
    """Release 1 current; draft 2: the council's correction moves SO-B up a level and two
    ranks (SO-C and SO-D one rank down), and QH-10's page now shows its earlier periods
    while its score, level and rank stay."""
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    _republish_with_corrected_appraisal(settings)
    _add_trend(
        settings.warehouse,
        PERIOD,
        "QH-10",
        [
            (2022, "same_unit", D("65"), "hinh_thanh", "Hình thành", 2),
            (2023, "same_unit", D("70"), "hinh_thanh", "Hình thành", 2),
        ],
    )
    runs = passing_runs(PERIOD)
    runs[1].warnings = ["3 dòng tự đánh giá lưu sau hạn"]
    return write_bundle(settings, PERIOD, runs, approval_required=True)


def test_the_prompt_of_a_first_release_counts_units_per_level_label(small_warehouse):
    draft = write_bundle(
        small_warehouse,
        PERIOD,
        passing_runs(PERIOD),
        approval_required=True,
        publication="preliminary",
    )
    manifest = _manifest(draft)
    subject, body = releases.approval_prompt(releases.describe(_store(small_warehouse).draft()))

    assert subject == "Phê duyệt kết quả DTI năm 2023 — bản 1 (sơ bộ)"
    assert "Đây là bản công bố đầu tiên của kỳ." in body
    assert "Hình thức công bố: **sơ bộ**" in body
    assert "Kiểm định dữ liệu: **đạt**" in body and "Cảnh báo của kiểm định: không có." in body
    assert f"`{manifest['bundle_sha256']}`" in body
    # labels, lowest level first, never the codes
    counts = re.findall(r"^\| (.+?) \| (\d+) \|$", body, re.MULTILINE)
    assert counts == [("Khởi động", "2"), ("Hình thành", "1"), ("Nâng cao", "4"), ("Chưa nộp", "1")]
    assert not re.search(r"khoi_dong|hinh_thanh|nang_cao|not_submitted", body)
    # nothing to compare with, so no table of changes
    assert "thay bản" not in body and "Đơn vị thay đổi" not in body
    assert "**Từ chối**: năm 2023 chưa có bản công bố" in body


def test_level_labels_come_from_the_release_not_from_the_code(small_warehouse):
    draft = write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD), approval_required=True)
    manifest = _manifest(draft)
    for level in manifest["levels"]:
        level["level_name"] = f"Mức {level['sort_order']}"
    (draft / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    described = releases.describe(_store(small_warehouse).draft())
    assert [(lv["level_name"], lv["units"]) for lv in described["levels"]] == [
        ("Mức 1", 2),
        ("Mức 2", 1),
        ("Mức 3", 4),
    ]
    _, body = releases.approval_prompt(described)
    assert "| Mức 3 | 4 |" in body and "Nâng cao" not in body


def test_without_a_drafts_url_the_prompt_says_how_to_serve_the_draft(small_warehouse):
    write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD), approval_required=True)
    draft = _store(small_warehouse).draft()

    described = releases.describe(draft)
    assert "url" not in described and described["folder"] == ".releases/2023/1"
    _, body = releases.approval_prompt(described)
    assert "`dti release serve`" in body
    assert "`http://127.0.0.1:8766/.releases/2023/1/index.html`" in body
    assert str(small_warehouse.out) not in body and str(draft.path) not in body

    linked = releases.describe(draft, drafts_url=DRAFTS_URL)
    url = "https://dti.example.gov.vn/ban-nhap/.releases/2023/1/index.html"
    assert linked["url"] == url
    _, body = releases.approval_prompt(linked)
    assert f"[{url}]({url})" in body and "dti release serve" not in body


def test_the_prompt_of_a_second_release_lists_what_changes_against_the_first(small_warehouse):
    settings = small_warehouse
    draft = _second_draft(settings)
    manifest = _manifest(draft)
    described = releases.describe(_store(settings).draft(), drafts_url=DRAFTS_URL)
    subject, body = releases.approval_prompt(described)

    assert subject == "Phê duyệt kết quả DTI năm 2023 — bản 2 (chính thức)"
    assert "Bản này thay bản 1, bản đang công bố." in body
    assert "- submissions: 3 dòng tự đánh giá lưu sau hạn" in body
    assert described["bundle_sha256"] == manifest["bundle_sha256"]
    assert f"`{manifest['bundle_sha256']}`" in body
    assert "(https://dti.example.gov.vn/ban-nhap/.releases/2023/2/index.html)" in body
    # old → new of the unit that moves, the unchanged fields as they are
    assert (
        "| Ban Quản lý Khu Nam (SO-B) | Sở, ban, ngành | 17,25 → 45,5 | Khởi động → Nâng cao "
        "| 4 → 2 | đã chấm điểm |"
    ) in body
    assert "| Sở Tài chính (SO-C) | Sở, ban, ngành | 40 | Nâng cao | 2 → 3 | đã chấm điểm |" in body
    assert body.index("(SO-B)") < body.index("(SO-C)")  # a new level comes first
    # QH-10's page changes although its results do not
    pages = body[body.index("### Đơn vị chỉ thay đổi phần so sánh") :]
    assert (
        "| Quận 10 (QH-10) | Quận, huyện và thành phố Thủ Đức | phần so sánh với các kỳ trước |"
        in pages
    )
    assert "(SO-B)" not in pages and "(QH-PN)" not in pages
    assert "**Từ chối**: bản 1 vẫn là bản công bố" in body


def test_the_manifest_records_pages_that_change_without_their_results(small_warehouse):
    draft = _second_draft(small_warehouse)
    pages = {p["unit_code"]: p for p in _manifest(draft)["pages_changed"]}
    assert pages["QH-10"]["cause"] == "comparison" and pages["QH-10"]["unit_name"] == "Quận 10"
    # the correction moves the block's medians: its other units' pages change too
    assert pages["SO-A"]["cause"] == "page" and pages["SO-E"]["cause"] == "page"
    moved = {c["unit_code"] for c in _manifest(draft)["changes"]}
    assert moved == {"SO-B", "SO-C", "SO-D"} and not moved & set(pages)
    # the other district pages are the same bytes as release 1's
    assert not {"QH-PN", "QH-2"} & set(pages)
    first = releases.ReleaseStore(small_warehouse.out, PERIOD).release(1).path
    for code in ("QH-PN", "QH-2"):
        page = f"don-vi/{code}.html"
        assert (draft / page).read_bytes() == (first / page).read_bytes()
    assert _manifest(first)["pages_changed"] == []
    # SO-B's numbers moved by the council's appraisal: each changed answer cites it
    cited = _manifest(draft)["answer_changes"]
    assert {c["unit_code"] for c in cited} == {"SO-B"}
    assert {c["indicator_code"] for c in cited} >= {"NTS.2", "NTS.10"}
    assert {c["cause"]["kind"] for c in cited} == {"appraisal"}
    assert _manifest(draft)["unexplained_changes"] == 0
    assert _manifest(first)["answer_changes"] == []


def test_the_prompt_is_vietnamese_nfc_and_renders_as_markdown_tables(small_warehouse):
    _second_draft(small_warehouse)
    for described in (
        releases.describe(_store(small_warehouse).draft()),
        releases.describe(_store(small_warehouse).draft(), drafts_url=DRAFTS_URL),
    ):
        subject, body = releases.approval_prompt(described)
        for text in (subject, body):
            assert unicodedata.is_normalized("NFC", text)
            assert not ENGLISH.search(_prose(text)), ENGLISH.search(_prose(text))
        html = MarkdownIt("commonmark").enable("table").render(body)
        # levels, results that change, pages that change, why the answers changed
        assert html.count("<table>") == 4
        rows = re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)
        widths = {len(re.findall(r"<t[dh][ >]", row)) for row in rows}
        assert widths == {2, 6, 3, 4}, widths  # every row as wide as its table's header


def test_a_draft_equal_to_the_current_release_says_nothing_changes(small_warehouse):
    settings = small_warehouse
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    _republish_with_corrected_appraisal(settings)
    write_bundle(settings, PERIOD, passing_runs(PERIOD), approval_required=True)
    settings.warehouse.unlink()  # the correction withdrawn: release 1's results again
    make_warehouse(settings.warehouse, PERIOD, small_units())
    write_bundle(settings, PERIOD, passing_runs(PERIOD), approval_required=True)

    described = releases.describe(_store(settings).draft())
    assert described["number"] == 2 and described["same_as_previous"] is True
    assert described["changes"] == [] and described["pages_changed"] == []
    _, body = releases.approval_prompt(described)
    assert "Bản này giống hệt bản 1 (cùng mã kiểm tra)" in body
    assert "Đơn vị thay đổi" not in body


def test_a_draft_changing_no_unit_names_the_files_that_change(small_warehouse):
    write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD), approval_required=True)
    described = releases.describe(_store(small_warehouse).draft())
    described.update(
        previous_release=1, changes=[], pages_changed=[], files_changed=["phuong-phap.html"]
    )
    _, body = releases.approval_prompt(described)
    assert (
        "Không đơn vị nào thay đổi kết quả hay trang đơn vị so với bản 1; chỉ các tệp chung "
        "khác (1): `phuong-phap.html`."
    ) in body


def test_a_long_list_of_changes_is_cut_and_points_to_the_manifest(small_warehouse):
    write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD), approval_required=True)
    described = releases.describe(_store(small_warehouse).draft())
    page = {"unit_code": "X", "unit_name": "Phường |X|", "block": "phuong_xa", "cause": "page"}
    described.update(previous_release=1, changes=[], pages_changed=[page] * 60)
    _, body = releases.approval_prompt(described)
    assert body.count("| Phường \\|X\\| (X) | Phường, xã, đặc khu |") == releases.PROMPT_ROWS
    assert "… và 10 đơn vị khác (đầy đủ trong `manifest.json` của bản nháp)." in body
