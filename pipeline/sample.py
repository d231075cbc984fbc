"""The bundled sample: one period of HCMC self-assessments and appraisals, as inbox files.

``write_sample(inbox, period, seed)`` writes what the units of the registry would send for a
period, in the shapes ``docs/spec/submissions.md`` accepts and the way people actually fill them in:
a portal export holding many units, one-unit CSV files (some saved by Excel with a BOM and
CRLF, some with Vietnamese names), JSON from the portal API, XLSX workbooks, answers written
``có``/``không`` and ``87,5``, timestamps with and without an offset, later revisions, blank
answers, one council appraisal file and one unit that sent nothing.

Everything about the framework (indicators, methods, points, tiers, ``applies_to``, units,
level thresholds) is read from the seeds. The only sample data here is the picture the
answers are drawn towards: the target percent of each unit (``TARGET_PERCENT``), chosen so
that levels and ranking look like the published HCMC 2023 results (and, for 2025, the 2024
order of the departments' public-service group; the wards aim at percents drawn from their
codes). Each unit's answers are
drawn at random around its target, then its ratio answers are tuned until the scored total
(appraisal over self) hits the target exactly; ``testkit/reference_scoring.py`` checks the
result independently. The same seed always gives byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import random
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from dti.settings import SEEDS_DIR
from dti.vocabulary import READY_SUFFIX

log = logging.getLogger(__name__)

# --- the picture (sample data: which unit lands where; not framework facts) ------------------

# Target percent of each unit's applicable maximum, best first. One decimal, so that every
# target is an exact total in hundredths on any scale. Departments follow the published HCMC
# 2023 result: 11 nâng cao (SO-SCT exactly on the 80 % line), 18 hình thành, 2 khởi động
# (SO-SATTP, SO-BQLKN), top five in published order. Districts: the published first seven
# and last; QH-BTHANH and QH-Q5 tie on purpose.
TARGET_PERCENT: dict[str, tuple[tuple[str, str], ...]] = {
    "so_nganh": (
        ("SO-HEPZA", "93.5"),
        ("SO-SNV", "91.8"),
        ("SO-STTTT", "90.6"),
        ("SO-SKHCN", "89.4"),
        ("SO-SKHDT", "88.2"),
        ("SO-VPUB", "86.9"),
        ("SO-STC", "85.7"),
        ("SO-STP", "84.3"),
        ("SO-SYT", "83.1"),
        ("SO-SXD", "81.6"),
        ("SO-SCT", "80.0"),
        ("SO-SGDDT", "79.4"),
        ("SO-SLDTBXH", "78.3"),
        ("SO-STNMT", "77.2"),
        ("SO-SGTVT", "76.1"),
        ("SO-SDL", "75.0"),
        ("SO-BQLSHTP", "73.8"),
        ("SO-SNNPTNT", "72.6"),
        ("SO-TTTP", "71.5"),
        ("SO-SNGV", "70.4"),
        ("SO-SVHTT", "69.2"),
        ("SO-SQHKT", "68.1"),
        ("SO-BDT", "66.9"),
        ("SO-BQLTT", "65.8"),
        ("SO-MAUR", "64.6"),
        ("SO-BQLHTDT", "63.5"),
        ("SO-BQLGT", "62.3"),
        ("SO-BQLDDCN", "61.2"),
        ("SO-BQLNN", "60.4"),
        ("SO-SATTP", "56.8"),
        ("SO-BQLKN", "52.3"),
    ),
    "quan_huyen": (
        ("QH-PN", "91.4"),
        ("QH-TD", "89.6"),
        ("QH-GV", "87.2"),
        ("QH-Q8", "85.8"),
        ("QH-Q1", "84.0"),
        ("QH-BTAN", "82.6"),
        ("QH-Q7", "80.8"),
        ("QH-Q3", "78.4"),
        ("QH-Q10", "76.6"),
        ("QH-TB", "75.2"),
        ("QH-BTHANH", "73.8"),
        ("QH-Q5", "73.8"),
        ("QH-Q11", "71.6"),
        ("QH-TP", "70.2"),
        ("QH-Q6", "68.4"),
        ("QH-Q12", "66.0"),
        ("QH-BC", "64.2"),
        ("QH-HM", "62.6"),
        ("QH-CC", "58.4"),
        ("QH-CG", "55.0"),
        ("QH-NB", "51.2"),
    ),
}
# 2025: the departments after the 1 March 2025 mergers, in the order of the published 2024
# public-service group (HEPZA first, the science department that took over Thông tin và
# Truyền thông second, Nội vụ third, An toàn thực phẩm last); Văn phòng UBND and Thanh tra
# rank in their own group.
TARGET_PERCENT["so_nganh"] += (
    ("SO25-HEPZA", "94.2"),
    ("SO25-SKHCN", "92.8"),
    ("SO25-SNV", "91.5"),
    ("SO25-STC", "89.7"),
    ("SO25-SCT", "87.4"),
    ("SO25-SYT", "85.9"),
    ("SO25-STP", "84.1"),
    ("SO25-SXD", "82.6"),
    ("SO25-BQLSHTP", "80.0"),
    ("SO25-SGDDT", "78.8"),
    ("SO25-SNNMT", "76.3"),
    ("SO25-SGTCC", "74.5"),
    ("SO25-SDL", "72.2"),
    ("SO25-SVHTT", "69.6"),
    ("SO25-SDTTG", "63.4"),
    ("SO25-SATTP", "57.1"),
    ("SO25-VPUB", "88.3"),
    ("SO25-TTTP", "81.7"),
)
# The 168 wards, communes and the special zone of 2025 are too many to list: each aims at a
# percent drawn from its code (WARD_PERCENT_RANGE, in tenths), the same for every seed.
WARD_BLOCK = "phuong_xa"
WARD_PERCENT_RANGE = (Decimal("48.0"), Decimal("96.0"))
# Active units that send nothing at all (listed as not submitted, no rank).
NOT_SUBMITTED: frozenset[str] = frozenset({"QH-Q4", "PX-27475"})
# A unit of the registry missing from TARGET_PERCENT still gets a submission, aimed here.
DEFAULT_PERCENT = "70.0"

# How many submitting units send a file of their own in each format; the rest are in the
# portal's bulk export.
OWN_FILE_COUNTS: tuple[tuple[str, int], ...] = (("xlsx", 3), ("json", 10), ("csv", 16))
REVISED_UNITS = 6  # send a later file re-submitting some answers
APPRAISED_UNITS = 9  # appear in the council's appraisal file
UNITS_WITH_BLANKS = 5  # leave one or two indicators unanswered

LOCAL_TZ = timezone(timedelta(hours=7))
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)
ZERO = Decimal(0)
ONE = Decimal(1)
COLUMNS = (
    "period",
    "unit_code",
    "indicator_code",
    "value",
    "evidence_ref",
    "stage",
    "submitted_at",
)
EXPORT_COLUMNS = (
    "unit_code",
    "period",
    "stage",
    "indicator_code",
    "value",
    "evidence_ref",
    "submitted_at",
)
# How people spell yes/no; each file sticks to one pair. Input data, not the rule: the words
# the pipeline reads are the registry's (seeds/value_words.csv), and the sample tests show
# each spelling here is one of them.
YES_NO = (("có", "không"), ("Có", "Không"), ("1", "0"), ("yes", "no"), ("TRUE", "FALSE"))


class SampleError(RuntimeError):
    """The sample cannot be drawn for this registry (say which seed or unit, and why)."""


# --- the registry, read from the seeds --------------------------------------------------------


@dataclass(frozen=True)
class _Indicator:
    code: str
    max_points: Decimal
    method: str
    target: Decimal
    tiers: tuple[tuple[Decimal, Decimal], ...]
    applies_to: frozenset[str]

    @property
    def ratio_cap(self) -> Decimal:
        """The highest ratio value worth reporting: above the target scores the same."""
        return min(HUNDRED, self.target)


@dataclass(frozen=True)
class _Unit:
    code: str
    name: str
    block: str


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _covers(row: dict[str, str], start: str, end: str, period: int) -> bool:
    return int(row[start]) <= period and (not row[end].strip() or period <= int(row[end]))


def _load_registry(seeds_dir: Path, period: int) -> tuple[list[_Unit], dict[str, list[_Indicator]]]:
    """Units active in ``period`` and, per block, the indicators of its framework version."""
    versions: dict[str, str] = {}
    for row in _read_csv(seeds_dir / "frameworks.csv"):
        if _covers(row, "valid_from", "valid_to", period):
            if row["block"] in versions:
                raise SampleError(f"two framework versions cover {row['block']} in {period}")
            versions[row["block"]] = row["framework_version"]
    units = [
        _Unit(row["unit_code"], unicodedata.normalize("NFC", row["unit_name"]), row["block"])
        for row in _read_csv(seeds_dir / "units.csv")
        if _covers(row, "active_from", "active_to", period)
    ]
    if not units:
        raise SampleError(f"no unit of {seeds_dir / 'units.csv'} is active in {period}")
    missing = sorted({u.block for u in units} - versions.keys())
    if missing:
        raise SampleError(
            f"no framework in {seeds_dir / 'frameworks.csv'} covers {period} for {missing}"
        )
    indicators: dict[str, list[_Indicator]] = {block: [] for block in versions}
    for row in _read_csv(seeds_dir / "indicators.csv"):
        if versions.get(row["block"]) != row["framework_version"]:
            continue
        tiers = (t.split(":") for t in row["tiers"].split("|") if t.strip())
        indicators[row["block"]].append(
            _Indicator(
                code=row["indicator_code"],
                max_points=Decimal(row["max_points"]),
                method=row["method"],
                target=Decimal(row["target"]) if row["target"].strip() else HUNDRED,
                tiers=tuple(sorted((Decimal(b), Decimal(p)) for b, p in tiers)),
                applies_to=frozenset(c for c in row["applies_to"].split("|") if c.strip()),
            )
        )
    return units, indicators


# --- points (the sample's own, to aim; the tests score the files independently) --------------


def _points(indicator: _Indicator, value: Decimal | None) -> Decimal:
    """Points of a canonical value (booleans as 1/0); ``None`` is unanswered."""
    if value is None:
        return ZERO
    if indicator.method == "boolean":
        return indicator.max_points if value == ONE else ZERO
    if indicator.method == "ratio":
        raw = indicator.max_points * min(value / indicator.target, ONE)
        return raw.quantize(CENT, rounding=ROUND_HALF_UP)
    if indicator.method == "tiers":
        reached = [p for bound, p in indicator.tiers if bound <= value]  # tiers sorted by bound
        return reached[-1] if reached else ZERO
    if indicator.method == "points":
        return value
    raise SampleError(f"{indicator.code}: unknown scoring method {indicator.method!r}")


def _tier_index(indicator: _Indicator, value: Decimal) -> int:
    """Index of the tier ``value`` reaches, -1 below the first."""
    return sum(1 for bound, _ in indicator.tiers if bound <= value) - 1


def _draw(indicator: _Indicator, quality: int, rng: random.Random) -> Decimal:
    """A plausible answer of a unit doing ``quality`` % well on this indicator."""
    if indicator.method == "boolean":
        return ONE if rng.randrange(100) < quality else ZERO
    if indicator.method == "ratio":
        tenths = int(indicator.target * 10 * quality / 100) + rng.randint(-30, 30)
        return min(max(Decimal(tenths) / 10, ZERO), HUNDRED)
    if indicator.method == "tiers":
        aimed = indicator.max_points * quality / 100
        index = sum(1 for _, p in indicator.tiers if p <= aimed) - 1
        bounds = [b for b, _ in indicator.tiers]
        low = bounds[index] if index >= 0 else ZERO
        high = bounds[index + 1] - 1 if index + 1 < len(bounds) else bounds[-1] * 3 / 2
        return Decimal(rng.randint(int(low), max(int(low), int(high))))
    if indicator.method == "points":
        halves = int(indicator.max_points * 2 * quality / 100) + rng.randint(-2, 2)
        return min(max(Decimal(halves) / 2, ZERO), indicator.max_points)
    raise SampleError(f"{indicator.code}: unknown scoring method {indicator.method!r}")


def _step(indicator: _Indicator, value: Decimal, up: bool) -> Decimal:
    """One level better (or worse) on a boolean or tiers indicator."""
    if indicator.method == "boolean":
        return ONE if up else ZERO
    index = _tier_index(indicator, value) + (1 if up else -1)
    index = min(max(index, -1), len(indicator.tiers) - 1)
    return indicator.tiers[index][0] if index >= 0 else ZERO


def _ratio_value_for(indicator: _Indicator, points: Decimal, step: Decimal) -> Decimal:
    value = (points * indicator.target / indicator.max_points).quantize(step, ROUND_HALF_UP)
    return min(max(value, ZERO), indicator.ratio_cap)


def _exact_ratio_value(indicator: _Indicator, points: Decimal) -> Decimal | None:
    """A ratio value (tenths if possible, else hundredths) worth exactly ``points``."""
    if not ZERO <= points <= indicator.max_points:
        return None
    for step in (TENTH, CENT):
        centre = _ratio_value_for(indicator, points, step)
        for k in (0, 1, -1, 2, -2, 3, -3):
            candidate = centre + k * step
            if ZERO <= candidate <= indicator.ratio_cap and _points(indicator, candidate) == points:
                return candidate
    return None


# --- one unit's answers -----------------------------------------------------------------------


@dataclass
class _UnitAnswers:
    unit: _Unit
    indicators: list[_Indicator]  # those that apply to the unit, registry order
    target_total: Decimal
    rng: random.Random
    own: dict[str, Decimal | None] = field(default_factory=dict)  # latest self answers
    council: dict[str, Decimal] = field(default_factory=dict)  # appraisal answers
    earlier: dict[str, Decimal | None] = field(default_factory=dict)  # first-file values
    submitted_at: datetime | None = None
    revised_at: datetime | None = None
    revision_in_utc: bool = False

    def scored(self, indicator: _Indicator) -> Decimal | None:
        return self.council.get(indicator.code, self.own[indicator.code])

    def total(self) -> Decimal:
        return sum((_points(i, self.scored(i)) for i in self.indicators), ZERO)

    def tunable(self, *methods: str) -> list[_Indicator]:
        """Answered indicators of these methods the council did not touch."""
        return [
            i
            for i in self.indicators
            if i.method in methods and i.code not in self.council and self.own[i.code] is not None
        ]


def _draw_unit(answers: _UnitAnswers, percent: Decimal) -> None:
    for indicator in answers.indicators:
        quality = min(max(int(percent) + answers.rng.randint(-25, 25), 0), 100)
        answers.own[indicator.code] = _draw(indicator, quality, answers.rng)


def _leave_blank(answers: _UnitAnswers) -> None:
    candidates = answers.tunable("boolean", "tiers")
    for indicator in answers.rng.sample(
        candidates, min(len(candidates), answers.rng.randint(1, 2))
    ):
        answers.own[indicator.code] = None


def _appraise(answers: _UnitAnswers) -> None:
    """The council grades the ``points`` indicators and corrects one or two over-claims."""
    rng = answers.rng
    for indicator in answers.tunable("points"):
        granted = answers.own[indicator.code]
        assert granted is not None
        granted = min(granted, indicator.max_points - 1)
        answers.council[indicator.code] = granted
        claim = granted + Decimal(rng.randint(1, 6)) / 2
        answers.own[indicator.code] = min(claim, indicator.max_points)
    claims: list[tuple[_Indicator, Decimal]] = []
    for indicator in answers.tunable("boolean", "ratio", "tiers"):
        value = answers.own[indicator.code]
        assert value is not None
        if indicator.method == "boolean" and value == ZERO:
            claims.append((indicator, ONE))
        elif indicator.method == "ratio" and value + 5 <= indicator.ratio_cap:
            claims.append((indicator, value + Decimal(rng.randint(50, 150)) / 10))
        elif indicator.method == "tiers" and _tier_index(indicator, value) + 1 < len(
            indicator.tiers
        ):
            claims.append((indicator, _step(indicator, value, up=True)))
    for indicator, claim in rng.sample(claims, min(len(claims), 2)):
        granted = answers.own[indicator.code]
        assert granted is not None
        answers.council[indicator.code] = granted
        answers.own[indicator.code] = min(claim, HUNDRED)


def _hit_target(answers: _UnitAnswers) -> None:
    """Tune the unit's own answers until the scored total is exactly its target."""
    rng = answers.rng
    ratios = answers.tunable("ratio")
    room = sum((i.max_points for i in ratios), ZERO)

    def needed_from_ratios() -> Decimal:
        others = [i for i in answers.indicators if i not in ratios]
        return answers.target_total - sum((_points(i, answers.scored(i)) for i in others), ZERO)

    steppable = answers.tunable("boolean", "tiers")
    rng.shuffle(steppable)
    for indicator in steppable * 3:  # a tiers indicator may need several steps
        needed = needed_from_ratios()
        if ZERO <= needed <= room:
            break
        value = answers.own[indicator.code]
        assert value is not None
        answers.own[indicator.code] = _step(indicator, value, up=needed > room)
    needed = needed_from_ratios()
    if not ZERO <= needed <= room:
        raise SampleError(
            f"{answers.unit.code}: cannot reach {answers.target_total} points "
            f"(ratio answers would need {needed} of at most {room})"
        )

    if not ratios:  # room is 0, so needed is 0: already on target
        return
    # Scale the ratio answers together, so the unit keeps its profile.
    current = {i.code: _points(i, answers.own[i.code]) for i in ratios}
    current_sum = sum(current.values(), ZERO)
    desired: dict[str, Decimal] = {}
    for indicator in ratios:
        share = (
            current[indicator.code] * needed / current_sum if current_sum else needed / len(ratios)
        )
        desired[indicator.code] = min(share, indicator.max_points)
    for indicator in ratios:  # whatever the capped ones could not take
        leftover = needed - sum(desired.values(), ZERO)
        if leftover <= 0:
            break
        add = min(leftover, indicator.max_points - desired[indicator.code])
        desired[indicator.code] += add
    for indicator in ratios:
        points = desired[indicator.code]
        if points == indicator.max_points and indicator.target < HUNDRED:
            # Above the target still scores the maximum; people report the real figure.
            span = int((HUNDRED - indicator.target) * 10)
            value = indicator.target + Decimal(rng.randint(0, span)) / 10
        else:
            value = _ratio_value_for(indicator, points, TENTH)
        answers.own[indicator.code] = value

    # The last hundredths: one ratio answer takes up the rounding.
    residual = answers.target_total - answers.total()
    if residual:
        for indicator in rng.sample(ratios, len(ratios)):
            value = _exact_ratio_value(
                indicator, _points(indicator, answers.own[indicator.code]) + residual
            )
            if value is not None:
                answers.own[indicator.code] = value
                break
    if answers.total() != answers.target_total:
        raise SampleError(
            f"{answers.unit.code}: drew {answers.total()} points, target {answers.target_total}"
        )


def _revise(answers: _UnitAnswers, first_blank: bool) -> None:
    """The unit's first file had other values for a few answers; a later file corrects them."""
    rng = answers.rng
    candidates = answers.tunable("boolean", "ratio", "tiers")
    chosen = rng.sample(candidates, min(len(candidates), rng.randint(2, 3)))
    for n, indicator in enumerate(chosen):
        value = answers.own[indicator.code]
        assert value is not None
        if n == 0 and first_blank:
            earlier: Decimal | None = None
        elif indicator.method == "boolean":
            earlier = ONE - value
        elif indicator.method == "ratio":
            earlier = value - Decimal(rng.randint(40, 150)) / 10 if value >= 15 else value + 5
        else:
            earlier = value + 3 if value < 3 else (value / 2).to_integral_value()
        answers.earlier[indicator.code] = earlier


# --- files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    """How one file writes its values."""

    yes_no: tuple[str, str]
    decimal_comma: bool
    offset: str  # "local" (+07:00), "naive" (no offset) or "utc" (Z)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _value_text(indicator: _Indicator, value: Decimal | None, style: _Style) -> str:
    if value is None:
        return ""
    if indicator.method == "boolean":
        return style.yes_no[0] if value == ONE else style.yes_no[1]
    text = _plain(value)
    return text.replace(".", ",") if style.decimal_comma else text


def _timestamp(moment: datetime, style: _Style) -> str:
    if style.offset == "naive":
        return moment.replace(tzinfo=None).isoformat(timespec="seconds")
    if style.offset == "utc":
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return moment.isoformat(timespec="seconds")


def _evidence(indicator: _Indicator, unit: _Unit, rng: random.Random) -> str:
    if rng.randrange(4) == 0:
        return ""
    kind = {"boolean": ("Quyết định", "QĐ"), "points": ("Biên bản", "BB")}.get(
        indicator.method, ("Báo cáo", "BC")
    )
    return f"{kind[0]} số {rng.randint(12, 480)}/{kind[1]}-{unit.code.split('-', 1)[-1]}"


@dataclass(frozen=True)
class _Answer:
    unit: _Unit
    indicator: _Indicator
    value: Decimal | None
    evidence_ref: str
    stage: str
    submitted_at: datetime


def _records(answers: Sequence[_Answer], style: _Style, period: int) -> list[dict[str, str]]:
    return [
        {
            "period": str(period),
            "unit_code": a.unit.code,
            "indicator_code": a.indicator.code,
            "value": _value_text(a.indicator, a.value, style),
            "evidence_ref": a.evidence_ref,
            "stage": a.stage,
            "submitted_at": _timestamp(a.submitted_at, style),
        }
        for a in answers
    ]


def _csv_bytes(
    records: list[dict[str, str]], columns: Sequence[str], *, bom: bool, crlf: bool
) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n" if crlf else "\n")
    writer.writeheader()
    writer.writerows(records)
    data = buffer.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if bom else data


def _json_bytes(answers: Sequence[_Answer], style: _Style, period: int) -> bytes:
    first = answers[0]
    document = {
        "period": period,
        "unit_code": first.unit.code,
        "stage": first.stage,
        "submitted_at": _timestamp(first.submitted_at, style),
        "answers": [
            {
                "indicator_code": a.indicator.code,
                "value": _value_text(a.indicator, a.value, style),
                "evidence_ref": a.evidence_ref,
            }
            for a in answers
        ],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


class _FixedTimeZip(zipfile.ZipFile):
    """A ZipFile that stamps every member with one fixed time, so the bytes are stable."""

    fixed_time: tuple[int, int, int, int, int, int] = (2024, 1, 1, 0, 0, 0)

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: str | bytes,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        if isinstance(zinfo_or_arcname, str):
            zinfo = zipfile.ZipInfo(zinfo_or_arcname, date_time=self.fixed_time)
            zinfo.compress_type = self.compression
            zinfo.external_attr = 0o600 << 16
            zinfo_or_arcname = zinfo
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(
        self,
        filename: str | Path,
        arcname: str | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        # openpyxl streams each worksheet through a temporary file; its mtime must not leak.
        name = arcname if arcname is not None else Path(filename).name
        self.writestr(name, Path(filename).read_bytes(), compress_type, compresslevel)


def _xlsx_bytes(answers: Sequence[_Answer], style: _Style, period: int) -> bytes:
    # openpyxl's own save() stamps "now" into docProps and the zip entries; write through its
    # ExcelWriter into a zip with fixed times instead.
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Tự đánh giá"
    sheet.append(list(COLUMNS))
    for record, answer in zip(_records(answers, style, period), answers, strict=True):
        cells: list[object] = [record[c] for c in COLUMNS]
        cells[0] = period
        if answer.value is not None and answer.indicator.method != "boolean":
            # Figures typed into Excel are number cells; Excel keeps them as doubles.
            value = answer.value.normalize()
            cells[3] = int(value) if value == value.to_integral_value() else float(str(value))
        elif answer.value is None:
            cells[3] = None
        sheet.append(cells)
    stamp = datetime(period + 1, 1, 1, 8, 0, 0)
    workbook.properties.creator = "DTI"
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    buffer = io.BytesIO()
    archive = _FixedTimeZip(buffer, "w", zipfile.ZIP_DEFLATED)
    archive.fixed_time = (stamp.year, stamp.month, stamp.day, stamp.hour, 0, 0)
    ExcelWriter(workbook, archive).save()
    return buffer.getvalue()


# --- the sample -------------------------------------------------------------------------------


def _ward_percent(unit_code: str) -> Decimal:
    """A ward's target percent, drawn from its code (one decimal, within the range)."""
    low, high = WARD_PERCENT_RANGE
    tenths = int((high - low) * 10) + 1
    draw = int.from_bytes(hashlib.sha256(f"dti-sample:{unit_code}".encode()).digest()[:8], "big")
    return low + Decimal(draw % tenths) / 10


def _targets(units: list[_Unit]) -> dict[str, Decimal]:
    table = {code: Decimal(p) for rows in TARGET_PERCENT.values() for code, p in rows}
    table |= {u.code: _ward_percent(u.code) for u in units if u.block == WARD_BLOCK}
    percents = {}
    for unit in units:
        if unit.code not in table and unit.code not in NOT_SUBMITTED:
            log.warning(
                "unit %s has no target in the sample; aiming %s %%", unit.code, DEFAULT_PERCENT
            )
        percents[unit.code] = table.get(unit.code, Decimal(DEFAULT_PERCENT))
    return percents


def _plan(
    units: list[_Unit],
    indicators: dict[str, list[_Indicator]],
    period: int,
    seed: int,
) -> list[_UnitAnswers]:
    """Every submitting unit's answers, each unit's total exactly on its target."""
    picker = random.Random(f"dti-sample:{seed}:{period}:picks")
    submitting = [u for u in units if u.code not in NOT_SUBMITTED]
    blanks = {u.code for u in picker.sample(submitting, min(UNITS_WITH_BLANKS, len(submitting)))}
    appraised = {u.code for u in picker.sample(submitting, min(APPRAISED_UNITS, len(submitting)))}
    revised = [u.code for u in picker.sample(submitting, min(REVISED_UNITS, len(submitting)))]
    percents = _targets(units)
    plans = []
    for number, unit in enumerate(submitting):
        applicable = [
            i for i in indicators[unit.block] if not i.applies_to or unit.code in i.applies_to
        ]
        applicable_max = sum((i.max_points for i in applicable), ZERO)
        percent = percents[unit.code]
        answers = _UnitAnswers(
            unit=unit,
            indicators=applicable,
            target_total=(percent * applicable_max / HUNDRED).quantize(CENT, ROUND_HALF_UP),
            rng=random.Random(f"dti-sample:{seed}:{period}:{unit.code}"),
        )
        _draw_unit(answers, percent)
        if unit.code in blanks:
            _leave_blank(answers)
        if unit.code in appraised:
            _appraise(answers)
        _hit_target(answers)
        rng = answers.rng
        answers.submitted_at = datetime(
            period + 1,
            1,
            5 + number % 22,
            rng.randint(9, 16),
            rng.choice((0, 15, 30, 45)),
            tzinfo=LOCAL_TZ,
        )
        if unit.code in revised:
            _revise(answers, first_blank=unit.code == revised[0])
            # The first revision comes two hours later, in UTC: its wall-clock text sorts
            # before the original's, so only comparing instants finds the latest.
            answers.revision_in_utc = unit.code == revised[0]
            later = (
                timedelta(hours=2) if answers.revision_in_utc else timedelta(days=9 + number % 7)
            )
            answers.revised_at = answers.submitted_at + later
        plans.append(answers)
    return plans


def _self_answers(
    plan: _UnitAnswers, values: dict[str, Decimal | None], at: datetime
) -> list[_Answer]:
    """The unit's self answers for the indicators in ``values``, in registry order."""
    return [
        _Answer(plan.unit, i, values[i.code], _evidence(i, plan.unit, plan.rng), "self", at)
        for i in plan.indicators
        if i.code in values
    ]


def _formats(plans: list[_UnitAnswers], rng: random.Random) -> dict[str, str]:
    """unit code -> the format of its own file; units left out are in the portal export."""
    order = list(plans)
    rng.shuffle(order)
    formats: dict[str, str] = {}
    for kind, count in OWN_FILE_COUNTS:
        for plan in order[len(formats) : len(formats) + count]:
            formats[plan.unit.code] = kind
    return formats


class _Files(dict[str, bytes]):
    """File name (NFC) -> bytes; refuses to write one name twice."""

    def add(self, name: str, data: bytes) -> None:
        name = "".join("-" if c in '/\\:*?"<>|' else c for c in name)
        name = unicodedata.normalize("NFC", name)
        if name in self:
            raise SampleError(f"two sample files would be named {name!r}")
        self[name] = data


def _sample_files(plans: list[_UnitAnswers], period: int, seed: int) -> _Files:
    rng = random.Random(f"dti-sample:{seed}:{period}:files")
    formats = _formats(plans, rng)
    files = _Files()
    export: list[_Answer] = []
    csv_count = 0
    for plan in plans:
        assert plan.submitted_at is not None
        answers = _self_answers(plan, {**plan.own, **plan.earlier}, plan.submitted_at)
        kind = formats.get(plan.unit.code, "export")
        yes_no = rng.choice(YES_NO)
        if kind == "export":
            export.extend(answers)
        elif kind == "xlsx":  # Excel keeps local time without an offset
            style = _Style(yes_no, decimal_comma=True, offset="naive")
            name = f"Bảng tự đánh giá DTI {period} - {plan.unit.name}.xlsx"
            files.add(name, _xlsx_bytes(answers, style, period))
        elif kind == "json":
            style = _Style(yes_no, decimal_comma=False, offset="local")
            files.add(
                f"{plan.unit.code.lower()}_{period}_self.json", _json_bytes(answers, style, period)
            )
        else:
            csv_count += 1
            style = _Style(
                yes_no, decimal_comma=True, offset="naive" if csv_count == 1 else "local"
            )
            # Every other one-unit CSV was saved by Excel: Vietnamese name, BOM, CRLF.
            excel = csv_count % 2 == 1
            name = (
                f"Tự đánh giá DTI {period} - {plan.unit.name}.csv"
                if excel
                else f"{plan.unit.code}_tu_danh_gia_{period}.csv"
            )
            records = _records(answers, style, period)
            files.add(name, _csv_bytes(records, COLUMNS, bom=excel, crlf=excel))

        if plan.earlier:
            assert plan.revised_at is not None
            revision = _self_answers(
                plan, {code: plan.own[code] for code in plan.earlier}, plan.revised_at
            )
            if plan.revision_in_utc:
                style = _Style(yes_no, decimal_comma=False, offset="utc")
                name = f"{plan.unit.code.lower()}_{period}_self_revision.json"
                files.add(name, _json_bytes(revision, style, period))
            else:
                style = _Style(yes_no, decimal_comma=True, offset="local")
                name = f"Bổ sung tự đánh giá DTI {period} - {plan.unit.name}.csv"
                records = _records(revision, style, period)
                files.add(name, _csv_bytes(records, COLUMNS, bom=True, crlf=True))

    if export:
        style = _Style(("1", "0"), decimal_comma=False, offset="local")
        records = _records(export, style, period)
        name = f"dti_portal_export_{period}.csv"
        files.add(name, _csv_bytes(records, EXPORT_COLUMNS, bom=False, crlf=False))

    council_at = datetime(period + 1, 2, 26, 14, 0, tzinfo=LOCAL_TZ)
    council = [
        _Answer(
            plan.unit,
            i,
            plan.council[i.code],
            f"Biên bản thẩm định số {n:02d}/BB-HĐTĐ",
            "appraisal",
            council_at + timedelta(minutes=10 * n),
        )
        for n, plan in enumerate((p for p in plans if p.council), start=1)
        for i in plan.indicators
        if i.code in plan.council
    ]
    if council:
        style = _Style(("Có", "Không"), decimal_comma=True, offset="local")
        records = _records(council, style, period)
        name = f"Kết quả thẩm định DTI {period} - Hội đồng thẩm định.csv"
        files.add(name, _csv_bytes(records, COLUMNS, bom=True, crlf=True))
    return files


def write_sample(
    inbox: Path, period: int = 2023, seed: int = 2023, seeds_dir: Path | None = None
) -> list[Path]:
    """Write the sample submissions of ``period`` into ``inbox``; return the files written.

    Each file gets an empty ``<name>.ready`` flag beside it, written after the file. The same
    ``seed`` gives byte-identical files; another seed draws other answers towards the same
    picture. ``seeds_dir``: the registry whose units and framework are sampled (default: the
    bundled one).
    """
    inbox = Path(inbox)
    units, indicators = _load_registry(seeds_dir or SEEDS_DIR, period)
    plans = _plan(units, indicators, period, seed)
    files = _sample_files(plans, period, seed)
    inbox.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(files):
        path = inbox / name
        path.write_bytes(files[name])
        path.with_name(name + READY_SUFFIX).write_bytes(b"")
        written.append(path)
    log.info(
        "wrote %d sample files for %d of %d units of %d into %s",
        len(written),
        len(plans),
        len(units),
        period,
        inbox,
    )
    return written
