"""The registry's administrative units, generated from maintained packages instead of typed.

Since 1 July 2025 the units of a province's ``phuong_xa`` block are its wards, communes and
special zone (phường, xã, đặc khu). Two PyPI packages carry them, and this module turns them
into registry seed rows:

* ``vietnam-provinces`` — every ward of the 34 provinces after the reform with its official
  code (mã đơn vị hành chính), name and type. It is the authority for codes and names: a
  ward's ``unit_code`` is ``PX-<official code>``.
* ``vietnamadminunits`` (MIT) — the 2025 conversion table (each new ward and the old wards,
  hence old districts, it was formed from) and each ward's coordinates. Its own ward codes
  differ from the official ones for a few wards, so wards are matched by name.

``dti registry units`` refreshes the ward rows of ``units.csv`` and ``unit_locations.csv``;
``dti registry lineage`` refreshes the ward rows of ``unit_lineage.csv`` and the
``former_units.csv`` rows they point at. Both keep every other row byte for byte (the 2023
registry, the 2025 departments and their lineage are hand-curated). The packages are needed
only to run these commands: the pipeline reads the seeds.
"""

from __future__ import annotations

import csv
import io
import logging
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

log = logging.getLogger(__name__)

WARD_PREFIX = "PX-"
FORMER_PREFIX = "DVHC-"
WEIGHT_STEP = Decimal("0.0001")

UNIT_COLUMNS = ("unit_code", "unit_name", "block", "rank_group", "active_from", "active_to")
LOCATION_COLUMNS = ("unit_code", "official_code", "division_type", "latitude", "longitude")
LINEAGE_COLUMNS = (
    "predecessor_code",
    "successor_code",
    "from_period",
    "kind",
    "weight",
    "source",
)
FORMER_COLUMNS = ("unit_code", "unit_name", "province_name", "official_code", "active_to")

LINEAGE_SOURCE = "vietnamadminunits 2025 conversion; weight = share of the ward's old wards"


class RegistrySourceError(RuntimeError):
    """The packages cannot produce the rows asked for (say which province or ward, and why)."""


def _name(text: str) -> str:
    """NFC with single spaces: the packages carry a few doubled spaces (``Phường  An Nhơn``)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


# --- reading the packages -------------------------------------------------------------------


@dataclass(frozen=True)
class Ward:
    """A ward, commune or special zone after the 2025 reform."""

    official_code: str  # five digits, as published
    name: str
    division_type: str  # phường / xã / đặc khu

    @property
    def unit_code(self) -> str:
        return f"{WARD_PREFIX}{self.official_code}"


def official_wards(province: int) -> list[Ward]:
    """The province's wards from ``vietnam-provinces``, by official code."""
    try:
        from vietnam_provinces import Province
        from vietnam_provinces import Ward as ProvincesWard
    except ImportError as exc:  # pragma: no cover - the venv has it
        raise RegistrySourceError(
            "the vietnam-provinces package is missing: run `make venv`"
        ) from exc
    try:
        Province.from_code(province)  # type: ignore[arg-type]
    except ValueError as exc:
        raise RegistrySourceError(f"province code {province} is not a province after 2025") from exc
    wards = [
        Ward(f"{int(w.code):05d}", _name(w.name), w.division_type.value)
        for w in ProvincesWard.iter_by_province(province)  # type: ignore[arg-type]
    ]
    return sorted(wards, key=lambda w: w.official_code)


def _converter_data() -> dict:
    try:
        from vietnamadminunits.converter import converter_2025
    except ImportError as exc:  # pragma: no cover - the venv has it
        raise RegistrySourceError(
            "the vietnamadminunits package is missing: run `make venv`"
        ) from exc
    return {
        "province": converter_2025.DICT_PROVINCE,
        "kept": converter_2025.DICT_PROVINCE_WARD_NO_DIVIDED,
        "divided": converter_2025.DICT_PROVINCE_WARD_DIVIDED,
    }


def _query(sql: str, parameters: Sequence[object] = ()) -> list[dict]:
    """Rows of ``vietnamadminunits``' own SQLite dataset (its ``database.query`` has no
    parameters, so the file is opened read-only here)."""
    import sqlite3

    from vietnamadminunits.database import main as database

    uri = f"file:{database.MODULE_DIR / 'data' / 'dataset.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute(sql, parameters).fetchall()]


@dataclass(frozen=True)
class AdminUnitsWard:
    """A ward as ``vietnamadminunits`` knows it after 2025."""

    key: str  # e.g. ``phuongbanco``
    name: str
    latitude: Decimal
    longitude: Decimal


def _adminunits_wards(province: int) -> dict[str, AdminUnitsWard]:
    """``vietnamadminunits``' wards of the province by name (names are unique in a province)."""
    rows = _query(
        "select ward, wardKey, wardLat, wardLon from admin_units where provinceCode = ?",
        (f"{province:02d}",),
    )
    wards: dict[str, AdminUnitsWard] = {}
    for row in rows:
        name = _name(row["ward"])
        if name in wards:
            raise RegistrySourceError(f"two wards named {name!r} in province {province}")
        wards[name] = AdminUnitsWard(
            key=row["wardKey"],
            name=name,
            latitude=Decimal(str(row["wardLat"])),
            longitude=Decimal(str(row["wardLon"])),
        )
    return wards


def _matched(province: int) -> list[tuple[Ward, AdminUnitsWard]]:
    """Each official ward with its ``vietnamadminunits`` record, matched by name."""
    theirs = _adminunits_wards(province)
    pairs = []
    for ward in official_wards(province):
        match = theirs.get(ward.name)
        if match is None:
            raise RegistrySourceError(
                f"ward {ward.official_code} {ward.name!r} is not in vietnamadminunits; "
                "update both packages"
            )
        pairs.append((ward, match))
    return pairs


# --- rows -----------------------------------------------------------------------------------


def unit_rows(province: int, block: str, active_from: int, active_to: int) -> list[dict[str, str]]:
    """``units.csv`` rows of the province's wards (one ranking: no rank group)."""
    return [
        {
            "unit_code": ward.unit_code,
            "unit_name": ward.name,
            "block": block,
            "rank_group": "",
            "active_from": str(active_from),
            "active_to": str(active_to),
        }
        for ward in official_wards(province)
    ]


def location_rows(province: int) -> list[dict[str, str]]:
    """``unit_locations.csv`` rows: each ward's official code, type and coordinates."""
    return [
        {
            "unit_code": ward.unit_code,
            "official_code": ward.official_code,
            "division_type": ward.division_type,
            "latitude": str(theirs.latitude),
            "longitude": str(theirs.longitude),
        }
        for ward, theirs in _matched(province)
    ]


@dataclass(frozen=True)
class OldDistrict:
    province_key: str
    district_key: str
    name: str
    province_name: str
    official_code: str


def _old_districts(province_keys: Iterable[str]) -> dict[tuple[str, str], OldDistrict]:
    keys = sorted(set(province_keys))
    marks = ",".join("?" for _ in keys)
    rows = _query(
        "select distinct provinceKey, districtKey, district, province, districtCode "
        f"from admin_units_legacy where provinceKey in ({marks})",
        keys,
    )
    return {
        (r["provinceKey"], r["districtKey"]): OldDistrict(
            r["provinceKey"],
            r["districtKey"],
            _name(r["district"]),
            _name(r["province"]),
            r["districtCode"],
        )
        for r in rows
    }


def _weights(counts: dict[str, int]) -> dict[str, Decimal]:
    """Shares of ``counts`` to 4 decimals, adding up to exactly 1 (the largest takes the rest)."""
    total = sum(counts.values())
    shares = {
        code: (Decimal(n) / Decimal(total)).quantize(WEIGHT_STEP, ROUND_HALF_UP)
        for code, n in counts.items()
    }
    largest = max(sorted(counts), key=lambda code: counts[code])
    shares[largest] += Decimal(1) - sum(shares.values())
    return shares


@dataclass(frozen=True)
class Lineage:
    lineage: list[dict[str, str]]
    former_units: list[dict[str, str]]


def lineage_rows(
    province: int,
    from_period: int,
    district_units: dict[str, str],
) -> Lineage:
    """Lineage of the province's 2025 wards from the districts before the reform.

    ``district_units`` maps an old district's name (``Quận 1``) to the registry unit that
    assessed it; districts the index never assessed (those of the provinces merged into this
    one) become ``former_units.csv`` rows ``DVHC-<official district code>``. A ward's
    predecessors are the districts its old wards lay in, each weighted by its share of those
    old wards (an old ward divided between new wards counts for each of them). ``kind``:
    ``merged`` when the ward has several predecessors, ``split`` when its one predecessor
    went to several wards, ``renamed`` when one unit became one unit.
    """
    data = _converter_data()
    matched = _matched(province)
    by_key = {theirs.key: ward for ward, theirs in matched}
    found = _query(
        "select distinct provinceKey, province from admin_units where provinceCode = ?",
        (f"{province:02d}",),
    )
    if len(found) != 1 or found[0]["provinceKey"] not in data["kept"]:
        raise RegistrySourceError(f"vietnamadminunits has no 2025 conversion for {province}")
    new_province_key = found[0]["provinceKey"]
    province_name = _name(found[0]["province"])
    old_wards: dict[str, list[tuple[str, str]]] = defaultdict(list)  # new ward key -> old
    for new_key, olds in data["kept"][new_province_key].items():
        for old in olds:
            province_key, district_key, _ = old.split("_", 2)
            old_wards[new_key].append((province_key, district_key))
    for old, news in data["divided"].get(new_province_key, {}).items():
        province_key, district_key, _ = old.split("_", 2)
        for new in news:
            old_wards[new["newWardKey"]].append((province_key, district_key))
    unknown = sorted(set(old_wards) - set(by_key))
    if unknown:
        raise RegistrySourceError(f"the conversion names wards not in the province: {unknown}")
    districts = _old_districts(data["province"][new_province_key])

    def predecessor(key: tuple[str, str]) -> str:
        district = districts.get(key)
        if district is None:
            raise RegistrySourceError(f"old district {key} is not in vietnamadminunits")
        if district.name in district_units and district.province_name == province_name:
            return district_units[district.name]
        return f"{FORMER_PREFIX}{district.official_code}"

    links: dict[str, dict[str, int]] = {}
    for ward, theirs in matched:
        olds = old_wards.get(theirs.key)
        if not olds:
            raise RegistrySourceError(f"ward {ward.official_code} {ward.name!r} has no old wards")
        counts: dict[str, int] = defaultdict(int)
        for key in olds:
            counts[predecessor(key)] += 1
        links[ward.unit_code] = dict(counts)
    successors: dict[str, set[str]] = defaultdict(set)
    for successor, counts in links.items():
        for code in counts:
            successors[code].add(successor)
    rows = []
    for successor in sorted(links):
        counts = links[successor]
        for code, weight in sorted(_weights(counts).items()):
            if len(counts) > 1:
                kind = "merged"
            elif len(successors[code]) > 1:
                kind = "split"
            else:
                kind = "renamed"
            rows.append(
                {
                    "predecessor_code": code,
                    "successor_code": successor,
                    "from_period": str(from_period),
                    "kind": kind,
                    "weight": format(weight.normalize(), "f"),
                    "source": LINEAGE_SOURCE,
                }
            )
    used = {row["predecessor_code"] for row in rows}
    former = sorted(
        (
            {
                "unit_code": f"{FORMER_PREFIX}{d.official_code}",
                "unit_name": d.name,
                "province_name": d.province_name,
                "official_code": d.official_code,
                "active_to": str(from_period - 1),
            }
            for d in districts.values()
            if f"{FORMER_PREFIX}{d.official_code}" in used
        ),
        key=lambda row: row["unit_code"],
    )
    return Lineage(rows, former)


# --- writing seeds --------------------------------------------------------------------------


def _line_ending(path: Path) -> str:
    return "\r\n" if path.exists() and b"\r\n" in path.read_bytes() else "\n"


def refresh_seed(
    path: Path,
    columns: Sequence[str],
    rows: Sequence[dict[str, str]],
    replaces: Callable[[dict[str, str]], bool],
) -> int:
    """Rewrite ``path``: existing lines ``replaces`` selects give way to ``rows``, appended.

    Every other line is kept byte for byte (line ending included), so refreshing the wards
    never touches the 2023 registry. A missing file is created with ``columns``. Returns the
    number of rows removed.
    """
    ending = _line_ending(path)
    if path.exists():
        text = path.read_bytes().decode("utf-8-sig")
        lines = text.splitlines(keepends=True)
        header = next(csv.reader([lines[0]]))
        if tuple(header) != tuple(columns):
            raise RegistrySourceError(f"{path} has columns {header}, expected {list(columns)}")
        kept = [lines[0]]
        removed = 0
        for line in lines[1:]:
            if not line.strip():
                continue
            row = dict(zip(header, next(csv.reader([line])), strict=True))
            if replaces(row):
                removed += 1
            else:
                kept.append(line if line.endswith(("\n", "\r")) else line + ending)
    else:
        kept, removed = [",".join(columns) + ending], 0
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator=ending)
    writer.writerows(rows)
    path.write_text("".join(kept) + buffer.getvalue(), encoding="utf-8", newline="")
    log.info("%s: %d rows replaced by %d", path, removed, len(rows))
    return removed


def write_units(registry: Path, province: int, block: str, active_from: int, active_to: int) -> int:
    """Refresh the province's wards in ``units.csv`` and ``unit_locations.csv``."""
    units = unit_rows(province, block, active_from, active_to)
    locations = location_rows(province)
    codes = {row["unit_code"] for row in units}
    refresh_seed(
        registry / "units.csv",
        UNIT_COLUMNS,
        units,
        lambda row: (
            row["unit_code"] in codes
            or (row["block"] == block and row["unit_code"].startswith(WARD_PREFIX))
        ),
    )
    refresh_seed(
        registry / "unit_locations.csv",
        LOCATION_COLUMNS,
        locations,
        lambda row: row["unit_code"] in codes or row["unit_code"].startswith(WARD_PREFIX),
    )
    return len(units)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def district_units(registry: Path, period: int) -> dict[str, str]:
    """Name -> unit code of the registry's district units active in ``period``."""
    return {
        row["unit_name"]: row["unit_code"]
        for row in read_rows(registry / "units.csv")
        if row["block"] == "quan_huyen"
        and int(row["active_from"]) <= period <= int(row["active_to"])
    }


def write_lineage(registry: Path, province: int, from_period: int) -> int:
    """Refresh the ward rows of ``unit_lineage.csv`` and ``former_units.csv``."""
    lineage = lineage_rows(province, from_period, district_units(registry, from_period - 1))
    successors = {row["successor_code"] for row in lineage.lineage}
    refresh_seed(
        registry / "unit_lineage.csv",
        LINEAGE_COLUMNS,
        lineage.lineage,
        lambda row: row["successor_code"] in successors,
    )
    refresh_seed(
        registry / "former_units.csv",
        FORMER_COLUMNS,
        lineage.former_units,
        lambda row: row["unit_code"].startswith(FORMER_PREFIX),
    )
    return len(lineage.lineage)
