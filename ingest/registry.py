"""The framework registry as ingest needs it: units, frameworks, indicators and value words.

Read from the dbt seeds (``Settings.seeds_dir``), the one source of truth, into temporary
tables of the ingest connection so that row validation is a join, not a Python loop.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from itertools import zip_longest
from pathlib import Path

import duckdb

import dti.settings
from dti.codes import CODE_COLUMNS, GRAMMAR, is_code, is_period
from dti.text import printable

# optional: a registry written before complaints has none (no period takes complaints)
COMPLAINT_WINDOWS = "complaint_windows.csv"


class RegistryError(Exception):
    """The seeds contradict themselves; fix the CSV named in the message."""


_TABLES = {
    "reg_units": (
        "units.csv",
        """select trim(unit_code) as unit_code, trim(block) as block,
                  cast(active_from as integer) as active_from,
                  cast(nullif(trim(active_to), '') as integer) as active_to""",
    ),
    "reg_frameworks": (
        "frameworks.csv",
        """select trim(framework_version) as framework_version, trim(block) as block,
                  cast(valid_from as integer) as valid_from,
                  cast(nullif(trim(valid_to), '') as integer) as valid_to""",
    ),
    "reg_indicators": (
        "indicators.csv",
        """select trim(framework_version) as framework_version, trim(block) as block,
                  trim(indicator_code) as indicator_code, trim(method) as method,
                  cast(max_points as decimal(18, 4)) as max_points,
                  {allows_decimals} as allows_decimals""",
    ),
    # the deadline of each period, for the plausible range of submitted_at (ingest.rows)
    "reg_periods": (
        "periods.csv",
        """select cast(period as integer) as period,
                  cast(nullif(trim(deadline), '') as timestamptz) as deadline""",
    ),
    # the words a value may be (lower case, NFC like the values they are compared with)
    "reg_value_words": (
        "value_words.csv",
        """select nfc_normalize(lower(trim(word))) as word, trim(kind) as kind,
                  cast(nullif(trim(boolean_value), '') as boolean) as boolean_value""",
    ),
}

_UNIQUE_CHECKS = {
    "units.csv": "select unit_code from reg_units group by all having count(*) > 1",
    "indicators.csv": """select framework_version || '/' || block || '/' || indicator_code
                         from reg_indicators group by framework_version, block, indicator_code
                         having count(*) > 1""",
    "value_words.csv": "select word from reg_value_words group by word having count(*) > 1",
    "frameworks.csv": """select a.block || ': ' || a.framework_version || ' and ' || b.framework_version
                         from reg_frameworks a join reg_frameworks b
                           on a.block = b.block and a.framework_version < b.framework_version
                          and a.valid_from <= coalesce(b.valid_to, 9999)
                          and b.valid_from <= coalesce(a.valid_to, 9999)""",
}


def _read_columns(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def code_problems(seeds_dir: Path) -> list[str]:
    """Each registry code outside the grammar of ``dti.codes``, each period that is not four
    ASCII digits, and each code spelt two ways that differ only by case."""
    problems: list[str] = []
    spellings: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    rows_of: dict[str, list[dict[str, str]]] = {}
    for kind, places in CODE_COLUMNS.items():
        for file_name, column in places:
            path = seeds_dir / file_name
            if file_name not in rows_of:
                rows_of[file_name] = _read_columns(path) if path.is_file() else []
            for number, row in enumerate(rows_of[file_name], start=2):
                code = (row.get(column) or "").strip()
                if not code:
                    continue  # required values are the framework suite's to demand
                where = f"{file_name} line {number}, {column}"
                if not is_code(code):
                    problems.append(
                        f"{where}: {printable(code)!r} is not a {kind} code ({GRAMMAR}); "
                        "codes become file names and links"
                    )
                    continue
                spellings[(kind, code.lower())].setdefault(code, where)
    for (kind, _), seen in spellings.items():
        if len(seen) > 1:
            problems.append(
                f"{kind} codes {' and '.join(f'{c!r} ({w})' for c, w in seen.items())} differ "
                "only by case: they would name one file on Windows and macOS; spell them alike "
                "or choose distinct codes"
            )
    periods = seeds_dir / "periods.csv"
    for number, row in enumerate(_read_columns(periods) if periods.is_file() else [], start=2):
        period = (row.get("period") or "").strip()
        if not is_period(period):
            problems.append(
                f"periods.csv line {number}, period: {printable(period)!r} is not a period "
                "(a year of four ASCII digits, e.g. 2023)"
            )
    return problems


def _unlabelled_rank_groups(con: duckdb.DuckDBPyConnection, seeds_dir: Path) -> list[str]:
    """``<unit>: <group> (<file>)`` for each unit whose rank group has no row in
    ``rank_groups.csv``: the site, the results files and the summary name a group by its
    label, never its code. The empty group (the whole block) needs none; a registry without
    ``rank_groups.csv`` or ``unit_rank_groups.csv`` has no rows of it."""
    named = [
        "select trim(unit_code) as unit_code, trim(rank_group) as rank_group, "
        "'units.csv' as file from read_csv(?, header = true, all_varchar = true)"
    ]
    params = [str(seeds_dir / "units.csv")]
    if (seeds_dir / "unit_rank_groups.csv").is_file():
        named.append(named[0].replace("units.csv", "unit_rank_groups.csv"))
        params.append(str(seeds_dir / "unit_rank_groups.csv"))
    labels = seeds_dir / "rank_groups.csv"
    labelled = (
        "select trim(rank_group) as rank_group from read_csv(?, header = true, "
        "all_varchar = true) where trim(coalesce(rank_group_name, '')) <> ''"
        if labels.is_file()
        else "select null::varchar as rank_group where false"
    )
    rows = con.execute(
        f"""
        with named as ({" union all ".join(named)}),
        labelled as ({labelled})
        select distinct unit_code || ': ' || rank_group || ' (' || file || ')'
        from named
        where coalesce(rank_group, '') <> ''
            and rank_group not in (select rank_group from labelled where rank_group is not null)
        order by 1
        """,
        [*params, *([str(labels)] if labels.is_file() else [])],
    ).fetchall()
    return [r[0] for r in rows]


def load_registry(con: duckdb.DuckDBPyConnection, seeds_dir: Path | None = None) -> None:
    """Creates ``reg_units``, ``reg_frameworks``, ``reg_indicators``, ``reg_periods`` and
    ``reg_value_words``
    as temp tables, and ``reg_boolean_words`` (the yes/no words as a refusal names them)."""
    seeds_dir = seeds_dir or dti.settings.SEEDS_DIR
    problems = code_problems(seeds_dir)
    if problems:
        raise RegistryError(
            f"the registry {seeds_dir} has codes that cannot be used: " + "; ".join(problems)
        )
    for table, (file_name, select) in _TABLES.items():
        path = seeds_dir / file_name
        if not path.is_file():
            raise RegistryError(f"registry seed {path} is missing; restore it from git")
        if "{allows_decimals}" in select:  # an optional column: an older registry lacks it
            header = con.execute(
                "select * from read_csv(?, header = true, all_varchar = true) limit 0", [str(path)]
            ).description
            present = any(column[0].strip().lower() == "allows_decimals" for column in header)
            select = select.format(
                allows_decimals="cast(nullif(trim(allows_decimals), '') as boolean)"
                if present
                else "cast(null as boolean)"
            )
        con.execute(
            f"create or replace temp table {table} as {select} "
            "from read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )
    for file_name, query in _UNIQUE_CHECKS.items():
        clashes = [r[0] for r in con.execute(query).fetchall()]
        if clashes:
            raise RegistryError(
                f"{seeds_dir / file_name} has overlapping or repeated keys: {', '.join(clashes)}; "
                "ingest cannot tell which registry entry governs a row until that is fixed"
            )
    unlabelled = _unlabelled_rank_groups(con, seeds_dir)
    if unlabelled:
        raise RegistryError(
            f"{seeds_dir / 'rank_groups.csv'} has no label (rank_group_name) for the rank group "
            f"of {', '.join(unlabelled)}; add a row per rank group with its Vietnamese label, "
            "which the published pages show instead of the code"
        )
    _describe_boolean_words(con)
    _load_complaint_windows(con, seeds_dir)


def _load_complaint_windows(con: duckdb.DuckDBPyConnection, seeds_dir: Path) -> None:
    """``reg_complaint_windows``: when each period takes complaints (docs/spec/complaints.md §3);
    a registry without ``complaint_windows.csv`` opens no window (no rows)."""
    path = seeds_dir / COMPLAINT_WINDOWS
    source = (
        "from read_csv(?, header = true, all_varchar = true)"
        if path.is_file()
        else "from (select null as period, null as opens_at, null as closes_at) where false"
    )
    con.execute(
        f"""create or replace temp table reg_complaint_windows as
            select cast(period as integer) as period,
                   cast(nullif(trim(opens_at), '') as timestamptz) as opens_at,
                   cast(nullif(trim(closes_at), '') as timestamptz) as closes_at
            {source}""",
        [str(path)] if path.is_file() else [],
    )
    repeated = con.execute(
        "select period from reg_complaint_windows group by period having count(*) > 1"
    ).fetchall()
    if repeated:
        raise RegistryError(
            f"{path} gives period {repeated[0][0]} more than one window; keep one row per period"
        )


def _describe_boolean_words(con: duckdb.DuckDBPyConnection) -> None:
    """``1/0, true/false, có/không, yes/no``: each true word with the false word of the same
    rank in the seed, for the reason of a value no method can read."""
    words = con.execute(
        "select word, boolean_value from reg_value_words where kind = 'boolean' order by rowid"
    ).fetchall()
    trues = [w for w, value in words if value]
    falses = [w for w, value in words if not value]
    pairs = ["/".join(w for w in pair if w) for pair in zip_longest(trues, falses, fillvalue="")]
    con.execute(
        "create or replace temp table reg_boolean_words as select ? as words", [", ".join(pairs)]
    )
