"""`dti explain` on the bundled 2023 demo, every unit checked by hand with the reference scorer.

For each unit the JSON explanation must re-add: the total is the sum of the points of the
answers it lists, each of those points is what the reference scorer gives the value it lists,
the level follows from the thresholds it prints, and the margins follow from those
thresholds and agree with the reference scorer. The margins are then checked by brute force:
one answer raised or lowered by exactly the margin changes the level or rank, and by 0.01
less does not (rescored with the reference scorer).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from dti.settings import SEEDS_DIR
from pipeline.cli import main
from pipeline.sample import write_sample
from testkit.reference_scoring import indicator_points, load_registry, read_inbox, score_period

PERIOD = 2023
CENT = Decimal("0.01")
LATER = "2024-03-15T10:00:00+07:00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("explain")
    write_sample(tmp / "inbox", period=PERIOD)
    # a council correction with its author and reason (docs/spec/submissions.md §1)
    council = tmp / "inbox" / "council-reasons.csv"
    council.write_text(
        "period,unit_code,indicator_code,value,evidence_ref,stage,submitted_at,appraiser,reason\n"
        f"{PERIOD},SO-SNV,ATTT.5,6,Biên bản số 9/BB-HĐTĐ,appraisal,2024-03-01T09:00:00+07:00,"
        "Nguyễn Văn Thẩm,Chưa diễn tập đủ kịch bản\n",
        encoding="utf-8",
    )
    council.with_name(council.name + ".ready").write_text("")
    _hostile_appraisal(tmp / "inbox")
    rows = read_inbox(tmp / "inbox")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--period", str(PERIOD),
         "--inbox", str(tmp / "inbox"), "--warehouse", str(tmp / "warehouse.duckdb"),
         "--out", str(tmp / "out")],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {"tmp": tmp, "rows": rows, "reference": score_period(rows, PERIOD, SEEDS_DIR)}


# Issue 26: a council row whose text attacks the terminal and the spreadsheet. It repeats the
# unit's own value, so the demo's scores stay as they are.
HOSTILE_UNIT = "QH-Q1"
HOSTILE_EVIDENCE = 'Biên bản 12;=HYPERLINK("http://x")\x1b]52;c;ZXZpbA==\x07 \u202eđảo'
HOSTILE_NOTE = "\x1b[2J\x1b[8mẩn\n   → được tính [counts]"  # clears, hides, forges a line
HOSTILE_APPRAISER = "Trần \x1b[31mĐỏ\x9b0m"
HOSTILE_REASON = "Đủ hồ sơ\r\nGIẢI TRÌNH KẾT QUẢ DTI 2023 — giả mạo"


def _hostile_appraisal(inbox: Path) -> None:
    rows = read_inbox(inbox)
    appraised = {
        r["indicator_code"]
        for r in rows
        if r["unit_code"] == HOSTILE_UNIT and r["stage"] == "appraisal"
    }
    latest = max(
        (r for r in rows if r["unit_code"] == HOSTILE_UNIT and r["stage"] == "self"
         and r["indicator_code"] not in appraised and r["value"]),
        key=lambda r: (r["indicator_code"] != "NTS.2", r["submitted_at"]),
    )  # fmt: skip
    path = inbox / "council-hostile.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["period", "unit_code", "indicator_code", "value", "evidence_ref", "stage",
                         "submitted_at", "appraiser", "reason", "note"])  # fmt: skip
        writer.writerow([PERIOD, HOSTILE_UNIT, latest["indicator_code"], latest["value"],
                         HOSTILE_EVIDENCE, "appraisal", "2024-03-02T09:00:00+07:00",
                         HOSTILE_APPRAISER, HOSTILE_REASON, HOSTILE_NOTE])  # fmt: skip
    path.with_name(path.name + ".ready").write_text("")


def _hostile_indicator(demo: dict) -> str:
    doc = explain(demo, "--unit", HOSTILE_UNIT)
    (answer,) = [a for a in doc["answers"] if a["appraiser"] == HOSTILE_APPRAISER]
    return answer["indicator_code"]


def explain(demo: dict, *args: str, as_json: bool = True) -> dict | str:
    out = io.StringIO()
    paths = [
        "--warehouse",
        str(demo["tmp"] / "warehouse.duckdb"),
        "--out",
        str(demo["tmp"] / "out"),
    ]
    with contextlib.redirect_stdout(out):
        code = main(["explain", "--period", str(PERIOD), *args, *paths, *(["--json"] * as_json)])
    assert code == 0
    text = out.getvalue()
    return json.loads(text, parse_float=Decimal) if as_json else text


def _indicators(unit_code: str) -> dict:
    registry = load_registry(SEEDS_DIR)
    unit = next(u for u in registry.units if u.code == unit_code)
    framework = registry.framework_for(unit.block, PERIOD)
    return {i.code: i for i in registry.indicators[(framework.version, unit.block)]}


def _level_from(thresholds: list[dict], total: Decimal, applicable_max: Decimal) -> str:
    reached = [t for t in thresholds if total * 100 >= Decimal(t["from_pct"]) * applicable_max]
    return max(reached, key=lambda t: Decimal(t["from_pct"]))["level"]


def test_every_unit_re_adds_from_its_answers_and_its_thresholds(demo) -> None:
    checked = 0
    for want in demo["reference"]:
        doc = explain(demo, "--unit", want["unit_code"])
        assert doc["schema"] == "dti.explain.unit/1"
        indicators = _indicators(want["unit_code"])
        # the total re-adds from the answers listed, each scored by hand from its value
        by_hand = Decimal(0)
        for answer in doc["answers"]:
            value = answer["counted_value"]
            points = (
                indicator_points(indicators[answer["indicator_code"]], value)
                if value not in (None, "") and answer["counted_stage"] is not None
                else Decimal(0)
            )
            assert Decimal(answer["final_points"]) == points, answer
            by_hand += points
        assert by_hand == Decimal(doc["total_score"]) == want["total_score"], want["unit_code"]
        assert Decimal(doc["self_score"]) == want["self_score"]
        assert Decimal(doc["applicable_max"]) == want["applicable_max"]
        assert doc["status"] == want["status"]
        margins = doc["margins"]
        if want["status"] == "scored":
            thresholds = doc["level"]["thresholds"]
            total, applicable_max = by_hand, Decimal(doc["applicable_max"])
            level = _level_from(thresholds, total, applicable_max)
            assert doc["level"]["level"] == level == want["level"]
            # the printed thresholds in points give the level margins
            ladder = sorted(thresholds, key=lambda t: Decimal(t["from_pct"]))
            position = [t["level"] for t in ladder].index(level)
            for t in ladder:
                assert Decimal(t["from_total"]) * 100 >= Decimal(t["from_pct"]) * applicable_max
                below = Decimal(t["from_total"]) - CENT
                assert below < 0 or below * 100 < Decimal(t["from_pct"]) * applicable_max
            if position + 1 < len(ladder):
                step = Decimal(ladder[position + 1]["from_total"]) - total
                assert Decimal(margins["points_to_next_level"]) == step
            if position > 0:
                drop = total - Decimal(ladder[position]["from_total"]) + CENT
                assert Decimal(margins["points_to_drop_level"]) == drop
        assert doc["rank"]["rank"] == want["rank"]
        for field, value in want["margins"].items():
            got = margins[field]
            assert (got is None) == (value is None), (want["unit_code"], field)
            assert got is None or (Decimal(got) if field != "next_level" else got) == value
        assert [p["rank"] for p in doc["pillars"]] == [p["rank"] for p in want["pillars"]]
        for neighbour in doc["rank"]["just_above"]:
            assert neighbour["rank"] < want["rank"]
        for neighbour in doc["rank"]["just_below"]:
            assert neighbour["rank"] > want["rank"]
        checked += 1
    assert checked == len(demo["reference"]) > 50


def _rescore(demo: dict, unit_code: str, indicator_code: str, points: Decimal) -> dict:
    """The unit's result after one council answer sets ``indicator_code`` to ``points``."""
    extra = {
        "period": PERIOD, "unit_code": unit_code, "indicator_code": indicator_code,
        "value": str(points), "evidence_ref": "", "stage": "appraisal", "submitted_at": LATER,
        "submission_id": "brute-force",
    }  # fmt: skip
    results = score_period([*demo["rows"], extra], PERIOD, SEEDS_DIR)
    return next(r for r in results if r["unit_code"] == unit_code)


def test_margins_agree_with_raising_or_lowering_one_answer(demo) -> None:
    """Raise (or lower) one `points` answer by exactly the margin: the level or rank moves;
    by 0.01 less it does not. Cases where no single `points` answer has room are skipped."""
    moves = {
        "points_to_next_level": (+1, lambda old, new: new["level"] != old["level"]),
        "points_to_drop_level": (-1, lambda old, new: new["level"] != old["level"]),
        "points_to_next_rank": (+1, lambda old, new: new["rank"] < old["rank"]),
        "points_to_drop_rank": (-1, lambda old, new: new["rank"] > old["rank"]),
    }
    checked = 0
    for unit in demo["reference"]:
        if unit["status"] != "scored":
            continue
        doc = explain(demo, "--unit", unit["unit_code"])
        answers = [a for a in doc["answers"] if a["method"] == "points"]
        for field, (sign, moved) in moves.items():
            margin = doc["margins"][field]
            if margin is None:
                continue
            margin = Decimal(margin)
            room = next(
                (
                    a
                    for a in answers
                    if Decimal(0)
                    <= Decimal(a["final_points"]) + sign * margin
                    <= Decimal(a["max_points"])
                ),
                None,
            )
            if room is None:
                continue
            current = Decimal(room["final_points"])
            new = _rescore(demo, unit["unit_code"], room["indicator_code"], current + sign * margin)
            assert moved(unit, new), (unit["unit_code"], field, margin)
            if margin > CENT:
                short = current + sign * (margin - CENT)
                almost = _rescore(demo, unit["unit_code"], room["indicator_code"], short)
                assert not moved(unit, almost), (unit["unit_code"], field, margin)
            checked += 1
    assert checked >= 40, f"only {checked} margins could be moved with one answer"


def test_an_indicator_lists_every_answer_and_the_arithmetic_matches(demo) -> None:
    raw = demo["rows"]
    # a district with council corrections and a department without
    for unit_code in ("QH-Q10", "SO-SNV"):
        unit_doc = explain(demo, "--unit", unit_code)
        for answer in unit_doc["answers"]:
            code = answer["indicator_code"]
            doc = explain(demo, "--unit", unit_code, "--indicator", code)
            assert doc["schema"] == "dti.explain.indicator/1"
            received = [
                r for r in raw if r["unit_code"] == unit_code and r["indicator_code"] == code
            ]
            assert len(doc["answers"]) == len(received)
            assert {a["submission_id"] for a in doc["answers"]} == {
                r["submission_id"] for r in received
            }
            for listed in doc["answers"]:
                assert len(listed["batch_sha256"]) == 64 and listed["source_row"] >= 1
                assert listed["source_file"]
            deciding = [a for a in doc["answers"] if a["why"] == "counts"]
            assert Decimal(doc["final_points"]) == Decimal(answer["final_points"])
            if answer["counted_stage"] is None:
                assert doc["arithmetic"] is None and deciding == []
                continue
            (one,) = [a for a in deciding if a["stage"] == answer["counted_stage"]]
            assert one["value"] == answer["counted_value"]
            assert doc["arithmetic"]["matches_marts"] is True
            assert Decimal(doc["arithmetic"]["points"]) == Decimal(answer["final_points"])
        text = explain(demo, "--unit", unit_code, as_json=False)
        assert "GIẢI TRÌNH KẾT QUẢ DTI 2023" in text and "[points_to_next_rank]" in text


def test_explain_says_what_to_do_for_an_unknown_unit(demo, capsys) -> None:
    paths = [
        "--warehouse",
        str(demo["tmp"] / "warehouse.duckdb"),
        "--out",
        str(demo["tmp"] / "out"),
    ]
    assert main(["explain", "--period", str(PERIOD), "--unit", "KHONG-CO", *paths]) == 1
    assert "KHONG-CO" in capsys.readouterr().err
    assert not Path(demo["tmp"] / "out" / "2023" / "KHONG-CO").exists()


def test_an_appraisal_with_appraiser_and_reason_shows_in_explain_and_on_the_page(demo) -> None:
    doc = explain(demo, "--unit", "SO-SNV")
    (attt5,) = [a for a in doc["answers"] if a["indicator_code"] == "ATTT.5"]
    assert attt5["counted_stage"] == "appraisal" and attt5["counted_value"] == "6"
    assert attt5["appraiser"] == "Nguyễn Văn Thẩm"
    assert attt5["appraisal_reason"] == "Chưa diễn tập đủ kịch bản"
    assert attt5["appraisal_evidence_ref"] == "Biên bản số 9/BB-HĐTĐ"
    history = explain(demo, "--unit", "SO-SNV", "--indicator", "ATTT.5")
    council = [a for a in history["answers"] if a["stage"] == "appraisal"]
    assert [(a["appraiser"], a["reason"], a["why"]) for a in council] == [
        ("Nguyễn Văn Thẩm", "Chưa diễn tập đủ kịch bản", "counts")
    ]
    assert council[0]["source_file"] == "council-reasons.csv" and council[0]["source_row"] == 1
    text = explain(demo, "--unit", "SO-SNV", "--indicator", "ATTT.5", as_json=False)
    assert "người thẩm định [appraiser]: Nguyễn Văn Thẩm" in text
    page = (demo["tmp"] / "out" / str(PERIOD) / "don-vi" / "SO-SNV.html").read_text("utf-8")
    assert "Thẩm định (Nguyễn Văn Thẩm): Chưa diễn tập đủ kịch bản" in page
    assert "Biên bản số 9/BB-HĐTĐ" in page


def _vn(text: str) -> Decimal:
    """A number as the site writes it (1.234,5) back to a Decimal."""
    return Decimal(text.replace(".", "").replace(",", "."))


def _section(demo: dict, unit_code: str) -> str:
    page = (demo["tmp"] / "out" / str(PERIOD) / "don-vi" / f"{unit_code}.html").read_text("utf-8")
    assert '<a href="#giai-trinh">Giải trình kết quả</a>' in page
    (section,) = re.findall(r'<section id="giai-trinh".*?</section>', page, re.S)
    return section


def test_every_unit_page_carries_the_explanation_dti_explain_gives(demo) -> None:
    """The page's Giải trình kết quả section: the same thresholds, rank, neighbours, margins
    and pillar ranks as `dti explain --json`, for every unit of the demo."""
    for want in demo["reference"]:
        doc = explain(demo, "--unit", want["unit_code"])
        section = _section(demo, want["unit_code"])
        for t in doc["level"]["thresholds"]:
            (shown,) = re.findall(
                rf'data-level="{t["level"]}">[^<]*từ [^<]*<strong>([^<]+)</strong>', section
            )
            assert _vn(shown) == Decimal(t["from_total"]), (want["unit_code"], t)
        rank = doc["rank"]
        if rank["rank"] is not None:
            assert f"<strong>{rank['rank']}</strong>/{rank['ranked_units']} " in section
        for key in ("just_above", "tied_with", "just_below"):
            shown = re.findall(
                r'data-unit-code="([^"]+)"',
                "".join(re.findall(rf'data-explain="{key}">.*?(?:<br>|</li>)', section)),
            )
            assert shown == [u["unit_code"] for u in rank[key]], (want["unit_code"], key)
        for field, value in doc["margins"].items():
            if field == "next_level":
                continue
            (item,) = re.findall(rf'data-margin="{field}">(.*?)</li>', section)
            numbers = re.findall(r"<strong>([^<]+)</strong>", item)
            if doc["status"] != "scored" or value is None:
                assert numbers == [], (want["unit_code"], field, item)
            else:
                assert [_vn(n) for n in numbers] == [Decimal(value)], (want["unit_code"], field)
        for pillar in doc["pillars"]:
            (shown,) = re.findall(
                rf'data-pillar-code="{pillar["pillar_code"]}">[^<]*: [^<]*điểm, hạng ([^<]+)</li>',
                section,
            )
            assert shown == ("—" if pillar["rank"] is None else str(pillar["rank"]))


def test_the_appraisal_and_the_evidence_show_in_the_answers_csv(demo) -> None:
    bundle = demo["tmp"] / "out" / str(PERIOD)
    data = (bundle / "answers_so_nganh.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))
    (attt5,) = [r for r in rows if (r["unit_code"], r["indicator_code"]) == ("SO-SNV", "ATTT.5")]
    assert (attt5["counted_stage"], attt5["appraisal_value"], attt5["final_points"]) == (
        "appraisal",
        "6",
        "6",
    )
    assert attt5["evidence_ref"] == "Biên bản số 9/BB-HĐTĐ"
    assert (attt5["appraiser"], attt5["reason"]) == ("Nguyễn Văn Thẩm", "Chưa diễn tập đủ kịch bản")
    # every unit's answers carry the evidence the unit page and `dti explain` show
    doc = explain(demo, "--unit", "SO-SNV")
    for answer in doc["answers"]:
        (row,) = [
            r
            for r in rows
            if (r["unit_code"], r["indicator_code"]) == ("SO-SNV", answer["indicator_code"])
        ]
        counted = answer["counted_stage"]
        evidence = answer[
            "appraisal_evidence_ref" if counted == "appraisal" else "self_evidence_ref"
        ]
        assert row["evidence_ref"] == ((evidence or "") if counted else "")
        assert row["note"] == (answer["self_note"] or "")


def test_a_required_evidence_missing_is_flagged_in_explain_and_warned(demo) -> None:
    """indicators.csv requires evidence for NTS.2, TCS.1 and ATTT.3: a counted answer without
    one is flagged by `dti explain` and listed by the scores checkpoint's warning."""
    flagged, present = [], []
    for want in demo["reference"]:
        for a in explain(demo, "--unit", want["unit_code"])["answers"]:
            counted = a["counted_stage"]
            evidence = a[
                "appraisal_evidence_ref" if counted == "appraisal" else "self_evidence_ref"
            ]
            assert a["evidence_required"] == (a["indicator_code"] in {"NTS.2", "TCS.1", "ATTT.3"})
            assert a["evidence_missing"] == (
                a["evidence_required"] and counted is not None and not (evidence or "").strip()
            )
            if a["evidence_required"] and counted is not None:
                (flagged if a["evidence_missing"] else present).append(
                    (want["unit_code"], a["indicator_code"])
                )
    assert flagged and present, "the demo has required evidence both missing and present"
    manifest = json.loads((demo["tmp"] / "out" / str(PERIOD) / "manifest.json").read_text())
    (scores,) = [r for r in manifest["validation_runs"] if r["checkpoint"] == "scores"]
    (warning,) = [w for w in scores["warnings"] if "'required_evidence_missing'" in w]
    assert f"{len(flagged)} failing row(s)" in warning
    unit, code = flagged[0]
    text = explain(demo, "--unit", unit, as_json=False)
    assert "thiếu minh chứng bắt buộc [evidence_missing]" in text
    assert "required_evidence_missing" in text  # the gating run's warning, section 6


def test_escape_sequences_and_forged_lines_never_reach_the_terminal(demo, capsys) -> None:
    """Issue 26: the evidence writes the clipboard (OSC 52), the note clears the screen and
    forges a line, the appraiser colours the terminal (ESC and the C1 CSI), the reason forges
    the note's title. `dti explain` shows each as escapes; the data is kept as sent."""
    code = _hostile_indicator(demo)
    texts = [
        explain(demo, "--unit", HOSTILE_UNIT, as_json=False),
        explain(demo, "--unit", HOSTILE_UNIT, "--indicator", code, as_json=False),
    ]
    for text in texts:
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
        assert "\\x1b]52;c;ZXZpbA==\\x07" in text and "\\u202eđảo" in text
        assert "Trần \\x1b[31mĐỏ\\x9b0m" in text
        lines = text.split("\n")
        assert sum(line.startswith("GIẢI TRÌNH") for line in lines) == 1
    indicator_lines = texts[1].split("\n")
    assert [ln for ln in indicator_lines if "[counts]" in ln and "\\x1b[2J" in ln] == [
        "   giải trình [note]: \\x1b[2J\\x1b[8mẩn\\x0a   → được tính [counts]"
    ]
    # --json: the same values, every one a terminal would act on written as a JSON escape
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["explain", "--period", str(PERIOD), "--unit", HOSTILE_UNIT, "--indicator", code,
              "--warehouse", str(demo["tmp"] / "warehouse.duckdb"), "--json"])  # fmt: skip
    raw = out.getvalue()
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", raw)
    (answer,) = [a for a in json.loads(raw)["answers"] if a["stage"] == "appraisal"]
    assert (answer["evidence_ref"], answer["note"]) == (HOSTILE_EVIDENCE, HOSTILE_NOTE)
    assert (answer["appraiser"], answer["reason"]) == (HOSTILE_APPRAISER, HOSTILE_REASON)


def test_a_formula_behind_a_semicolon_is_not_live_in_the_answers_csv(demo) -> None:
    """Issue 26: a Vietnamese-locale Excel splits the CSV on ``;``: no cell it then sees starts
    a formula, and no bidi override reaches the CSV, the workbook or the pages raw."""
    out = demo["tmp"] / "out" / str(PERIOD)
    text = (out / "answers_quan_huyen.csv").read_bytes().decode("utf-8-sig")
    assert "Biên bản 12;'=HYPERLINK" in text
    for separator in (",", ";"):
        for row in csv.reader(io.StringIO(text), delimiter=separator):
            for cell in row:
                assert not cell.lstrip(" ").startswith(("=", "+", "-", "@")), cell
    assert "\u202e" not in text and "\x1b" not in text and "\\u202eđảo" in text
    with zipfile.ZipFile(out / "answers_quan_huyen.xlsx") as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "\u202e" not in sheet and "<f>" not in sheet and "\\u202eđảo" in sheet
    for page in [out / "index.html", *(out / "don-vi").glob("*.html")]:
        html = page.read_text(encoding="utf-8")
        assert "\u202e" not in html and "\x1b" not in html, page
    page = (out / "don-vi" / f"{HOSTILE_UNIT}.html").read_text(encoding="utf-8")
    assert "\\u202eđảo" in page
