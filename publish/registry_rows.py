"""The registry rows a period was scored with, read from the warehouse (results.md §8.5).

A release carries the registry it was computed from, so that anyone can recompute every
number from the bundle alone. The rows come from the warehouse's ``registry`` schema (the
seeds dbt loaded, the very tables the models read), never from the registry folder on the
machine: the bundle depends on its inputs alone.

Every table of the schema is published, whatever its name (a new registry file is published
without a change here); each keeps only the rows the period used, by the columns it has:

=============================== =============================================================
column(s)                       a row is kept when
=============================== =============================================================
``period``                      it is the period's
``valid_from``, ``valid_to``    it is valid in the period (empty ``valid_to``: no end)
``active_from``, ``active_to``  it is active in the period (tables without ``unit_code``)
``framework_version``, ``block`` its framework version governs the block in the period
``unit_code``                   it names a unit of the period or one the period compares a
                                unit with (its predecessors through ``unit_lineage``)
``successor_code``              its successor is such a unit and it took effect by the period
``rank_group`` (no unit_code)   a unit of the period ranks in that group
=============================== =============================================================

A table with none of these columns (level labels, value words) is published whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import duckdb

SCHEMA = "registry"


@dataclass(frozen=True)
class RegistryTable:
    """One registry table as the period used it: ``columns`` as ``(name, DuckDB type)``."""

    name: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[tuple[str, str], ...]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in con.execute(
        """
        select c.table_name, c.column_name, c.data_type
        from information_schema.columns c
        join information_schema.tables t
            on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = ? and t.table_type = 'BASE TABLE'
        order by c.table_name, c.ordinal_position
        """,
        [SCHEMA],
    ).fetchall():
        found.setdefault(table, []).append((column, data_type))
    return {table: tuple(columns) for table, columns in found.items()}


def _named_units(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, tuple[tuple[str, str], ...]],
    period: int,
    units: set[str],
) -> set[str]:
    """The period's units and, through ``unit_lineage``, every unit they were formed from by
    the period (transitively): the units the period's comparisons name."""
    lineage = {name for name, _ in tables.get("unit_lineage", ())}
    if not {"predecessor_code", "successor_code", "from_period"} <= lineage:
        return set(units)
    edges = con.execute(
        f"select predecessor_code, successor_code from {SCHEMA}.unit_lineage "
        "where from_period <= ?",
        [period],
    ).fetchall()
    named, frontier = set(units), set(units)
    while frontier:
        found = {p for p, s in edges if s in frontier and p not in named}
        named |= found
        frontier = found
    return named


def read_registry(con: duckdb.DuckDBPyConnection, period: int) -> tuple[RegistryTable, ...]:
    """Every table of the warehouse's registry schema with the rows ``period`` used, by table
    name; rows in the order the registry file lists them (DuckDB's ``rowid`` of the seed).
    Nothing when the warehouse has no registry schema (a warehouse dbt never seeded)."""
    tables = _tables(con)
    if not tables:
        return ()
    used = con.execute(
        "select unit_code, framework_version, block, rank_group from marts.fct_unit_scores "
        "where period = ?",
        [period],
    ).fetchall()
    units = {u for u, _, _, _ in used}
    frameworks = sorted({f"{v}\x1f{b}" for _, v, b, _ in used})
    groups = sorted({g or "" for _, _, _, g in used})
    named = sorted(_named_units(con, tables, period, units))
    read = []
    for table, columns in sorted(tables.items()):
        names = {name for name, _ in columns}
        where: list[str] = []
        params: list[object] = []
        if "period" in names:
            where.append("period = ?")
            params.append(period)
        for start, end in (("valid_from", "valid_to"), ("active_from", "active_to")):
            if {start, end} <= names and (start == "valid_from" or "unit_code" not in names):
                where.append(f"{start} <= ? and ({end} is null or {end} >= ?)")
                params += [period, period]
        if {"framework_version", "block"} <= names:
            where.append("list_contains(?, framework_version || chr(31) || block)")
            params.append(frameworks)
        if "successor_code" in names:
            where.append("list_contains(?, successor_code)")
            params.append(named)
            if "from_period" in names:
                where.append("from_period <= ?")
                params.append(period)
        elif "unit_code" in names:
            where.append("list_contains(?, unit_code)")
            params.append(named)
        elif "rank_group" in names:
            where.append("list_contains(?, coalesce(rank_group, ''))")
            params.append(groups)
        column_list = ", ".join(f'"{name}"' for name, _ in columns)
        rows = con.execute(
            f'select {column_list} from {SCHEMA}."{table}" '
            f"{'where ' + ' and '.join(where) if where else ''} order by rowid",
            params,
        ).fetchall()
        read.append(RegistryTable(table, columns, tuple(rows)))
    return tuple(read)


def cell(value: object) -> str:
    """A registry value as the registry files write it: empty for none, ``true``/``false``,
    decimals exactly and without trailing zeros (``0.6667``, ``100``), instants in UTC ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    return str(value)


def registry_csv(table: RegistryTable) -> bytes:
    """The table as a registry file: UTF-8 (no BOM), comma, LF, a header of its columns; no
    formula guard, so the file reads back as the registry it is."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _ in table.columns])
    writer.writerows([cell(v) for v in row] for row in table.rows)
    return buffer.getvalue().encode("utf-8")


def registry_files(tables: Iterable[RegistryTable], folder: str) -> dict[str, bytes]:
    return {f"{folder}/{t.file_name}": registry_csv(t) for t in tables}


def column_types(tables: Sequence[RegistryTable]) -> dict[str, tuple[tuple[str, str], ...]]:
    """File name → its columns and DuckDB types (the data package's table schemas)."""
    return {t.file_name: t.columns for t in tables}
