"""Runs dbt in-process against the warehouse named by the settings."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from dti.settings import Settings

log = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    """A dbt command failed; the message names the failing nodes and their errors."""


@contextmanager
def _warehouse_env(settings: Settings) -> Iterator[None]:
    # profiles.yml reads the warehouse path and memory limit from the environment; restore
    # them afterwards so one process can build several warehouses (tests, benchmarks).
    given = {
        "DTI_WAREHOUSE": str(settings.warehouse),
        "DTI_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        # dbt_project.yml's seed-paths: this warehouse's copy of the registry in use
        "DTI_DBT_SEED_PATH": str(_registry_copy(settings)),
    }
    previous = {name: os.environ.get(name) for name in given}
    os.environ.update(given)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# Registry files added after the first registries were written, with their header: a registry
# folder without one (operators keep theirs for years, DTI_REGISTRY_DIR) gets the file with no
# rows in the copy dbt reads, so it stays usable and means what it meant before.
OPTIONAL_REGISTRY_FILES = {
    # no rows: every unit ranks in its units.csv rank_group in every period
    "unit_rank_groups.csv": "unit_code,rank_group,valid_from,valid_to,not_ranked_reason",
    # no rows: no unit names a rank group (ingest.registry refuses one that does)
    "rank_groups.csv": "rank_group,rank_group_name,not_ranked_reason",
    # no rows: no period takes complaints (ingest refuses them, docs/spec/complaints.md)
    "complaint_windows.csv": "period,opens_at,closes_at",
}


# the raw tables the models read (ingest.schema): an incremental build selects what they feed
RAW_TABLES = ("submission_rows", "complaint_rows", "decision_rows")


# Registry columns added after the first registries were written: a file without one gets it
# empty in the copy dbt reads, so the checkpoints can read every column of registry.* as is.
OPTIONAL_REGISTRY_COLUMNS = {
    # scored empty: scored (false: collected, not scored); allows_decimals empty: a count is
    # a whole number (ingest refuses "1.000")
    "indicators.csv": ("scored", "allows_decimals"),
    "rank_groups.csv": ("not_ranked_reason",),
    "unit_rank_groups.csv": ("not_ranked_reason",),
}


def _with_optional_columns(path: Path, columns: tuple[str, ...]) -> None:
    """Adds the ``columns`` a registry file lacks, empty, keeping every other byte's meaning."""
    import csv
    import io

    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return
    missing = [c for c in columns if c not in [name.strip() for name in rows[0]]]
    if not missing:
        return
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0] + missing)
    writer.writerows(row + [""] * len(missing) for row in rows[1:] if row)
    path.write_text(out.getvalue(), encoding="utf-8")


# The site's colours of a level (colour, background) by its place from the lowest, for a registry
# written before levels.csv: the shipped HCMC colours for its three levels, then more shades.
LEVEL_PALETTE = (
    ("#b45309", "#fef3c7"),
    ("#1d4ed8", "#dbeafe"),
    ("#15803d", "#dcfce7"),
    ("#7e22ce", "#f3e8ff"),
    ("#0e7490", "#cffafe"),
)
LEVELS_HEADER = (
    "framework_version,block,level_code,level_name,sort_order,from_pct,colour,background"
)


def levels_of_an_older_registry(folder: Path) -> str | None:
    """``levels.csv`` for a registry folder written before it existed (its thresholds were
    ``<level>_from_pct`` columns of frameworks.csv, its labels and order level_labels.csv,
    the lowest level at 0 %); ``None`` when the folder has levels.csv or is not of that
    shape. The folder is never written: the text goes into the copy dbt reads."""
    import csv
    import io

    labels_file, frameworks_file = folder / "level_labels.csv", folder / "frameworks.csv"
    if (folder / "levels.csv").exists() or not labels_file.is_file():
        return None
    with labels_file.open(encoding="utf-8-sig", newline="") as handle:
        labels = sorted(csv.DictReader(handle), key=lambda r: int(r["sort_order"]))
    with frameworks_file.open(encoding="utf-8-sig", newline="") as handle:
        frameworks = list(csv.DictReader(handle))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for fw in frameworks:
        for place, label in enumerate(labels):
            threshold = fw.get(f"{label['level_code']}_from_pct", "0" if place == 0 else None)
            if threshold is None:
                return None  # a label without its threshold: not the older shape
            colour, background = LEVEL_PALETTE[min(place, len(LEVEL_PALETTE) - 1)]
            writer.writerow(
                [fw["framework_version"], fw["block"], label["level_code"], label["level_name"],
                 label["sort_order"], threshold, colour, background]
            )  # fmt: skip
    return LEVELS_HEADER + "\n" + out.getvalue()


def _registry_copy(settings: Settings) -> Path:
    """The registry's CSVs copied into the warehouse's work folder, where dbt reads them.

    dbt never gets the registry folder itself: it writes a file for each seed it loads at
    ``<target>/run/<project>/<seed path>``, which for a seed path outside the project is the
    seed's own path — the operator's registry would be overwritten. The copy is refreshed
    before every dbt command, so it is always the registry in use.
    """
    copy = settings.work_dir / "dbt" / "registry"
    copy.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in registry_files(settings.seeds_dir)}
    for stale in copy.glob("*.csv"):
        if stale.name not in wanted:
            stale.unlink()
    for name, source in wanted.items():
        shutil.copyfile(source, copy / name)
    for name, header in OPTIONAL_REGISTRY_FILES.items():
        if name not in wanted:  # an older registry folder: the file with no rows
            (copy / name).write_text(header + "\n", encoding="utf-8")
    for name, columns in OPTIONAL_REGISTRY_COLUMNS.items():
        if (copy / name).is_file():
            _with_optional_columns(copy / name, columns)
    older_levels = levels_of_an_older_registry(settings.seeds_dir)
    if older_levels is not None:  # thresholds as columns: the same levels as rows
        (copy / "level_labels.csv").unlink()
        (copy / "levels.csv").write_text(older_levels, encoding="utf-8")
    return copy


def invoke(settings: Settings, *args: str) -> object:
    """Runs one dbt command; returns dbt's result or raises ``DbtFailed`` naming what failed."""
    from dbt.cli.main import dbtRunner

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    work = settings.work_dir / "dbt"
    cli_args = [
        *args,
        "--project-dir", str(settings.dbt_project_dir),
        "--profiles-dir", str(settings.dbt_project_dir),
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
        "--quiet",
    ]  # fmt: skip
    log.info("dbt %s", " ".join(args))
    with _warehouse_env(settings):
        try:
            result = dbtRunner().invoke(cli_args)
        finally:
            _release_warehouse()
    if not result.success:
        raise DbtFailed(f"dbt {args[0]} failed: {_describe_failure(result)}")
    return result.result


def _release_warehouse() -> None:
    # dbt-duckdb keeps its DuckDB instance open for the life of the process; the warehouse has
    # one writer, so hand it back before the next step (GX, publish, another process) opens it.
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None and getattr(env, "conn", None) is not None:
        env.conn.close()
        env.conn = None


def _describe_failure(result: object) -> str:
    if getattr(result, "exception", None) is not None:
        return str(result.exception)
    failures = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        # dbt's statuses read 'error', 'fail', 'runtime error' (or RunStatus.Error, TestStatus.Fail)
        if status.lower().endswith(("error", "fail")):
            name = getattr(node_result.node, "unique_id", "?")
            failures.append(f"{name}: {' '.join(str(node_result.message).split())}")
    return "; ".join(failures[:5]) or "see the dbt log in the warehouse's work folder"


def dbt_seed(settings: Settings, force: bool = False) -> bool:
    """Loads the framework registry (``Settings.seeds_dir``) into the ``registry`` schema.

    Skipped when the registry files are byte for byte those of the last load (an incremental
    run for one new submission need not reload a registry of thousands of units); switching
    to another registry folder or editing a file reloads it. Returns whether it was loaded.
    """
    fingerprint = _fingerprint(settings, registry=True)
    if not force and _last_fingerprint(settings, "seed") == fingerprint:
        log.info("registry unchanged since the last load: not reloaded")
        _record_registry_files(settings)
        return False
    invoke(settings, "seed", "--full-refresh")
    _record(settings, "seed", fingerprint, True)
    _record_registry_files(settings)
    return True


def registry_checksums(seeds_dir: Path) -> list[dict]:
    """``{"file", "sha256", "size_bytes"}`` of each registry CSV, by name."""
    return [
        {
            "file": p.name,
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "size_bytes": p.stat().st_size,
        }
        for p in registry_files(seeds_dir)
    ]


def _record_registry_files(settings: Settings) -> None:
    """``meta.registry_files``: the registry the warehouse holds now (folder, files, sha256),
    what the bundle's manifest lists under ``registry``."""
    import duckdb

    files = registry_checksums(settings.seeds_dir)
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute("create schema if not exists meta")
        con.execute(
            """create or replace table meta.registry_files (
                   folder varchar not null, file varchar not null, sha256 varchar not null,
                   size_bytes bigint not null, recorded_at timestamptz not null)"""
        )
        if files:
            con.executemany(
                "insert into meta.registry_files values (?, ?, ?, ?, current_timestamp)",
                [[str(settings.seeds_dir), f["file"], f["sha256"], f["size_bytes"]] for f in files],
            )
    finally:
        con.close()


def dbt_build(settings: Settings, period: int | None = None, full_refresh: bool = False) -> bool:
    """Builds and tests every model (seeds are loaded by ``dbt_seed``).

    Not run at all when nothing a model reads changed since the last build that succeeded:
    the same project and registry (fingerprint) and not one answer loaded since.

    Incremental models recompute only the units that received answers since the last build.
    When the registry or the models changed since the last successful build, the build is a
    full refresh whatever was asked: old rows were computed by other rules. Returns whether
    the build was a full refresh.
    """
    fingerprint = project_fingerprint(settings)
    previous = _last_fingerprint(settings, "build")
    if previous != fingerprint:
        if previous is not None:
            log.info("registry or models changed since the last build: full refresh")
        full_refresh = True
    answers = _answers_loaded(settings)
    if not full_refresh and _last_build(settings) == (fingerprint, *answers, True):
        # nothing a model reads changed since a build that succeeded: dbt is not even imported
        log.info("no answer loaded since the last build and the same project: not rebuilt")
        return False
    _start_build(settings, fingerprint, answers)
    # unit tests run in the test suite (tests/dbt), not on every production build
    args = ["build", "--exclude", "resource_type:seed", "resource_type:unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    else:
        # registry and models are those of the last build (same fingerprint), so only what
        # the answers feed can differ: the registry's views and dimensions are left as built
        args += ["--select", *(f"stg_portal__{table}+" for table in RAW_TABLES)]
    invoke(settings, *args)
    _record(settings, "build", fingerprint, full_refresh)
    _build_succeeded(settings)
    return full_refresh


def dbt_docs(settings: Settings) -> Path:
    """dbt's documentation of the project as this warehouse holds it (models, tests, lineage
    graph, compiled SQL, the catalog's columns and row counts) as one self-contained page,
    ``static_index.html`` (``dbt docs generate --static``); returns its path in the target
    folder. Run after ``dbt_build``: the catalog is read from the warehouse.

    The page opens offline: dbt inlines its scripts, styles and the manifest and catalog; the
    one external address in its code, dbt's usage tracker, loads only when
    ``send_anonymous_usage_stats`` is on, which ``dbt_project.yml`` turns off. (The page also
    asks for a few local files it never had, online or not: images of templates it has not
    rendered yet, a favicon, icon fonts.)
    """
    # The page holds the project, the registry and the relations' columns (dbt-duckdb's
    # catalog has no row counts): it changes only with the project fingerprint or dbt itself,
    # so a revision of answers reuses the page of the last generation instead of paying for
    # a `dbt docs generate` (seconds) on every release.
    key = hashlib.sha256(
        f"{project_fingerprint(settings)}\0{version('dbt-core')}\0{version('dbt-duckdb')}".encode()
    ).hexdigest()
    kept = settings.work_dir / "dbt" / "docs" / f"{key[:32]}.html"
    if kept.is_file():
        return kept
    invoke(settings, "docs", "generate", "--static")
    page = settings.work_dir / "dbt" / "target" / "static_index.html"
    if not page.is_file():
        raise DbtFailed(f"dbt docs generate wrote no {page}")
    kept.parent.mkdir(parents=True, exist_ok=True)
    for old in kept.parent.glob("*.html"):  # one project at a time: the last page is enough
        old.unlink()
    partial = kept.with_suffix(".partial")
    partial.write_bytes(_without_machine_paths(page.read_bytes(), settings))
    partial.replace(kept)
    return kept


def _without_machine_paths(page: bytes, settings: Settings) -> bytes:
    """The page with the folders of this machine written relative to the dbt project.

    dbt's manifest, inlined into the page, names the project folder (``root_path``), the
    target folder (``compiled_path``) and the registry copy (a seed's ``original_file_path``)
    absolutely; the page goes into a release, and a published file names no path of the
    machine that built it. Each folder, as JSON spells it inside the page, becomes the name
    a reader of the project knows it by (longest first: the target folder lies in the work
    folder)."""
    work = settings.work_dir / "dbt"
    folders = {
        work / "target": "target",
        work / "registry": "seeds",
        work: "dbt",
        settings.work_dir: "warehouse_work",
        settings.dbt_project_dir: ".",
    }
    for folder in sorted(folders, key=lambda f: len(str(f)), reverse=True):
        spelt = json.dumps(str(folder))[1:-1].encode("utf-8")
        page = page.replace(spelt, folders[folder].encode("utf-8"))
    return page


def project_fingerprint(settings: Settings) -> str:
    """sha256 over the dbt project's models, macros, tests and configuration and the registry
    in use (its CSV files, wherever ``DTI_REGISTRY_DIR`` puts them)."""
    return _fingerprint(settings, ("models", "macros", "tests"), registry=True)


def registry_files(seeds_dir: Path) -> list[Path]:
    """The registry's CSV files, by name."""
    return sorted(p for p in seeds_dir.glob("*.csv") if p.is_file())


def _fingerprint(settings: Settings, folders: tuple[str, ...] = (), registry: bool = False) -> str:
    root = settings.dbt_project_dir
    digest = hashlib.sha256()
    named = [("dbt_project.yml", root / "dbt_project.yml")]
    for folder in folders:
        named += [
            (str(p.relative_to(root)), p) for p in sorted((root / folder).rglob("*")) if p.is_file()
        ]
    if registry:  # by file name: the same registry in another folder is the same registry
        named += [(f"registry/{p.name}", p) for p in registry_files(settings.seeds_dir)]
    for name, path in named:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


# What dbt last did to this warehouse: a seed load or a build, with the fingerprint of the
# project files it used (so a changed registry or model forces a reload / full refresh).
_RUNS_DDL = """
create schema if not exists meta;
create table if not exists meta.dbt_runs (
    ran_at timestamptz not null,
    command varchar not null,
    project_fingerprint varchar not null,
    full_refresh boolean not null
);
"""


def _last_fingerprint(settings: Settings, command: str) -> str | None:
    import duckdb

    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(_RUNS_DDL)
        row = con.execute(
            "select project_fingerprint from meta.dbt_runs where command = ? "
            "order by ran_at desc limit 1",
            [command],
        ).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def _record(settings: Settings, command: str, fingerprint: str, full_refresh: bool) -> None:
    import duckdb

    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(_RUNS_DDL)
        con.execute(
            "insert into meta.dbt_runs values (current_timestamp, ?, ?, ?)",
            [command, fingerprint, full_refresh],
        )
    finally:
        con.close()


# The last build started on this warehouse: the project it built and how many answers
# ``raw.submission_rows`` held then (raw is append-only, so the count and the newest load
# time say whether anything arrived since). Written as not succeeded before dbt starts and
# marked succeeded after: a build that failed half-way is never taken for a complete one.
_LAST_BUILD_DDL = """
create schema if not exists meta;
create table if not exists meta.last_build (
    project_fingerprint varchar not null,
    answers bigint not null,
    answers_through varchar not null,
    succeeded boolean not null
);
"""


def _answers_loaded(settings: Settings) -> tuple[int, str]:
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        # complaints and decisions feed the marts too (fct_complaints): one of them alone is
        # something new to build (a warehouse from before them has no such tables)
        tables = ["submission_rows"] + [
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'raw' "
                "and table_name in ('complaint_rows', 'decision_rows') order by table_name"
            ).fetchall()
        ]
        rows = " union all ".join(f"select loaded_at from raw.{t}" for t in tables)
        count, newest = con.execute(
            f"select count(*), coalesce(cast(max(loaded_at) as varchar), '') from ({rows})"
        ).fetchone()
    finally:
        con.close()
    return int(count), str(newest)


def _last_build(settings: Settings) -> tuple[str, int, str, bool] | None:
    import duckdb

    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(_LAST_BUILD_DDL)
        row = con.execute("select * from meta.last_build").fetchone()
    finally:
        con.close()
    return tuple(row) if row else None


def _start_build(settings: Settings, fingerprint: str, answers: tuple[int, str]) -> None:
    import duckdb

    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(_LAST_BUILD_DDL)
        con.execute("delete from meta.last_build")
        con.execute("insert into meta.last_build values (?, ?, ?, false)", [fingerprint, *answers])
    finally:
        con.close()


def _build_succeeded(settings: Settings) -> None:
    import duckdb

    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute("update meta.last_build set succeeded = true")
    finally:
        con.close()
