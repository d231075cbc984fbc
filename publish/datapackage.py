"""The release as an open data package (docs/spec/results.md §8.5).

Three things let an outsider recompute and check a release without the warehouse:

* ``registry/<table>.csv``: the registry rows the period was scored with
  (``publish.registry_rows``);
* ``schema/results.schema.json`` and ``schema/manifest.schema.json``: the JSON Schemas of
  ``results.json`` and ``manifest.json`` (their home is ``publish/schemas/``;
  ``docs/spec/`` links them);
* ``datapackage.json`` (Frictionless Data Package): every CSV with its table schema, the JSON
  files with their schema, the licence, the sources, the release and the sha256 of each file.

The first two are files of the bundle (in ``bundle_sha256``). ``datapackage.json`` names the
release number, so it sits beside the manifest, outside ``files`` (listed as the manifest's
``package``): rebuilding the same results still makes no new release.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from publish import answers, spreadsheet
from publish.registry_rows import RegistryTable

PACKAGE = "datapackage.json"
SCHEMA_DIR = "schema"
REGISTRY_DIR = "registry"
SCHEMAS_HOME = Path(__file__).resolve().parent / "schemas"
RESULTS_SCHEMA = f"{SCHEMA_DIR}/results.schema.json"
MANIFEST_SCHEMA = f"{SCHEMA_DIR}/manifest.schema.json"

# Licences a data package names by their SPDX identifier: the title and address it gives.
LICENSES = {
    "CC-BY-4.0": (
        "Creative Commons Attribution 4.0",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    "CC0-1.0": ("Creative Commons Zero 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "ODC-By-1.0": (
        "Open Data Commons Attribution License 1.0",
        "https://opendatacommons.org/licenses/by/1-0/",
    ),
    "PDDL-1.0": (
        "Open Data Commons Public Domain Dedication and License 1.0",
        "https://opendatacommons.org/licenses/pddl/1-0/",
    ),
}

# results_<block>.csv (results.md §8.2): column → (Frictionless type, Vietnamese title); the
# pillar columns are typed by their suffix (``_PILLAR_SUFFIXES``)
_RESULTS_TITLES = {name: title for name, title, _ in spreadsheet.RESULTS_COLUMNS}
_RESULTS_FIELDS = {
    "unit_code": "string",
    "unit_name": "string",
    "block": "string",
    "status": "string",
    "total_score": "number",
    "self_score": "number",
    "applicable_max": "number",
    "percent": "number",
    "level": "string",
    "rank": "integer",
    "rank_group": "string",
    "rank_group_name": "string",
    "late": "boolean",
    "unanswered": "string",
    "next_level": "string",
    "points_to_next_level": "number",
    "points_to_drop_level": "number",
    "points_to_next_rank": "number",
    "points_to_drop_rank": "number",
}
_MARGIN_TITLES = {
    "next_level": "Mức độ kế tiếp",
    "points_to_next_level": "Điểm còn thiếu để lên mức độ kế tiếp",
    "points_to_drop_level": "Điểm có thể mất trước khi xuống mức độ",
    "points_to_next_rank": "Điểm còn thiếu để lên hạng",
    "points_to_drop_rank": "Điểm có thể mất trước khi xuống hạng",
}
_PILLAR_SUFFIXES = {
    "_score": ("number", "điểm"),
    "_max": ("number", "điểm tối đa"),
    "_rank": ("integer", "hạng"),
}
# answers_<block>.csv (results.md §8.2a): a number format makes a number, ``late`` a boolean
_ANSWERS_FIELDS = {
    name: ("number" if fmt else "boolean" if name == "late" else "string", title)
    for name, title, fmt in answers.COLUMNS
}
_DUCKDB_TYPES = (
    ("DECIMAL", "number"),
    ("DOUBLE", "number"),
    ("FLOAT", "number"),
    ("REAL", "number"),
    ("TIMESTAMP", "datetime"),
    ("DATE", "date"),
    ("BOOLEAN", "boolean"),
    ("BIGINT", "integer"),
    ("HUGEINT", "integer"),
    ("SMALLINT", "integer"),
    ("TINYINT", "integer"),
    ("INTEGER", "integer"),
)


class UndescribedColumn(ValueError):
    """A published CSV has a column the data package cannot type: declare it here."""


def schema_files() -> dict[str, bytes]:
    """The JSON Schemas a release carries, by path in the bundle."""
    return {
        f"{SCHEMA_DIR}/{path.name}": path.read_bytes()
        for path in sorted(SCHEMAS_HOME.glob("*.schema.json"))
    }


def _boolean(field: dict) -> dict:
    if field["type"] == "boolean":
        field.update(trueValues=["true"], falseValues=["false"])
    return field


def results_field(name: str) -> dict:
    if name in _RESULTS_FIELDS:
        title = _RESULTS_TITLES.get(name) or _MARGIN_TITLES.get(name, name)
        field = {"name": name, "type": _RESULTS_FIELDS[name], "title": title}
        if name == "status":
            field["constraints"] = {"required": True, "enum": ["scored", "not_submitted"]}
        if name == "unit_code":
            field["constraints"] = {"required": True, "unique": True}
        return _boolean(field)
    for suffix, (kind, words) in _PILLAR_SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return {"name": name, "type": kind, "title": f"{name.removesuffix(suffix)}: {words}"}
    raise UndescribedColumn(f"results CSV column {name!r} has no type in publish.datapackage")


def answers_field(name: str) -> dict:
    if name not in _ANSWERS_FIELDS:
        raise UndescribedColumn(f"answers CSV column {name!r} has no type in publish.datapackage")
    kind, title = _ANSWERS_FIELDS[name]
    return _boolean({"name": name, "type": kind, "title": title})


def registry_field(name: str, duckdb_type: str) -> dict:
    kind = next(
        (k for prefix, k in _DUCKDB_TYPES if duckdb_type.upper().startswith(prefix)), "string"
    )
    field = {"name": name, "type": kind, "description": f"warehouse type {duckdb_type}"}
    if kind == "datetime":
        field["format"] = "%Y-%m-%dT%H:%M:%S%z"
    return _boolean(field)


def csv_header(data: bytes) -> list[str]:
    """The column names of a published CSV (with or without a BOM)."""
    first = data.decode("utf-8-sig").split("\n", 1)[0]
    return next(csv.reader(io.StringIO(first)))


def _resource(path: str, sha256: str, size: int) -> dict:
    name = path.removesuffix(".csv").removesuffix(".json").replace("/", "-").replace(".", "-")
    return {"name": name.lower(), "path": path, "hash": f"sha256:{sha256}", "bytes": size}


def csv_resource(
    path: str, header: Sequence[str], sha256: str, size: int, registry: Mapping[str, RegistryTable]
) -> dict:
    """A tabular resource for one CSV of the bundle; raises ``UndescribedColumn`` for a CSV
    the package does not know."""
    resource = _resource(path, sha256, size)
    if path.startswith(f"{REGISTRY_DIR}/"):
        table = registry[path.removeprefix(f"{REGISTRY_DIR}/")]
        fields = [registry_field(name, kind) for name, kind in table.columns]
        resource["title"] = f"Bộ chỉ số: {table.name} (registry)"
        dialect = {"delimiter": ",", "lineTerminator": "\n"}
    elif path.startswith("results_"):
        fields = [results_field(name) for name in header]
        resource["title"] = f"Kết quả khối {path.removeprefix('results_').removesuffix('.csv')}"
        dialect = {"delimiter": ",", "lineTerminator": "\r\n"}
    elif path.startswith("answers_"):
        fields = [answers_field(name) for name in header]
        resource["title"] = f"Trả lời khối {path.removeprefix('answers_').removesuffix('.csv')}"
        dialect = {"delimiter": ",", "lineTerminator": "\r\n"}
    else:
        raise UndescribedColumn(f"{path}: a CSV the data package has no table schema for")
    if [f["name"] for f in fields] != list(header):
        raise UndescribedColumn(f"{path}: header {list(header)} differs from its table schema")
    resource.update(
        profile="tabular-data-resource",
        format="csv",
        mediatype="text/csv",
        encoding="utf-8",
        dialect={**dialect, "header": True, "doubleQuote": True, "quoteChar": '"'},
        schema={"fields": fields, "missingValues": [""]},
    )
    return resource


def build_package(
    *,
    period: int,
    framework_version: str,
    files: Mapping[str, tuple[str, int]],
    headers: Mapping[str, Sequence[str]],
    registry: Sequence[RegistryTable],
    release: Mapping[str, object],
    bundle_sha256: str,
    license_id: str,
    inputs: Sequence[Mapping[str, object]],
) -> dict:
    """``datapackage.json``: ``files`` every file of the bundle as ``path: (sha256, size)``,
    ``headers`` each CSV's column names; the CSVs and JSON files become resources."""
    by_file = {t.file_name: t for t in registry}
    resources = []
    for path, (sha256, size) in sorted(files.items()):
        if path.endswith(".csv"):
            resources.append(csv_resource(path, headers[path], sha256, size, by_file))
        elif path.endswith(".json"):
            resource = _resource(path, sha256, size)
            resource.update(
                profile="data-resource", type="json", format="json", mediatype="application/json"
            )
            if path == "results.json":
                resource.update(title="Kết quả của mọi đơn vị", jsonSchema=RESULTS_SCHEMA)
            elif path.startswith(f"{SCHEMA_DIR}/"):
                resource["title"] = "JSON Schema"
            resources.append(resource)
    title, address = LICENSES.get(license_id, (license_id, None))
    license_entry = {"name": license_id, "title": title}
    if address:
        license_entry["path"] = address
    return {
        "profile": "data-package",
        "name": f"dti-{period}",
        "title": f"Chỉ số chuyển đổi số (DTI) năm {period}",
        "description": (
            "Kết quả đánh giá chuyển đổi số của các đơn vị, các câu trả lời được tính, và bộ "
            "chỉ số (registry) đã dùng để chấm: đủ để tính lại mọi điểm, mức độ và hạng "
            "(docs/spec/results.md)."
        ),
        "version": f"{period}.{release.get('number')}",
        "licenses": [license_entry],
        "sources": [
            {"title": f"Bộ chỉ số (registry) {framework_version}", "path": f"{REGISTRY_DIR}/"},
            *(
                {"title": f"{i.get('source')}: {i.get('source_file')} (sha256 {i.get('sha256')})"}
                for i in inputs
            ),
        ],
        "dti": {
            "period": period,
            "framework_version": framework_version,
            "release": {k: release.get(k) for k in ("number", "publication")},
            "bundle_sha256": bundle_sha256,
            "manifest": "manifest.json",
            "manifest_schema": MANIFEST_SCHEMA,
        },
        "resources": resources,
    }
