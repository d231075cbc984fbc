"""`dti registry check`: a registry folder validated without a warehouse.

The registry's CSVs are read the way ingest reads them (``ingest.registry``: codes outside
the grammar of ``dti.codes`` or spelt two ways by case, repeated or overlapping keys), loaded by dbt into a temporary DuckDB, and the ``framework`` suite of
Great Expectations is run for every period of its ``periods.csv``. Nothing is written next
to the registry or into the repository.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from dti.settings import Settings

REQUIRED_FILES = (
    "frameworks.csv",
    "levels.csv",
    "pillars.csv",
    "indicators.csv",
    "units.csv",
    "periods.csv",
    "value_words.csv",
)


@dataclass
class RegistryReport:
    folder: Path
    files: list[dict] = field(default_factory=list)  # file, sha256, size_bytes, rows
    problems: list[str] = field(default_factory=list)  # what makes the registry unusable
    periods: dict[int, list[str]] = field(default_factory=dict)  # period: critical failures
    warnings: dict[int, list[str]] = field(default_factory=dict)
    frameworks: list[tuple[str, str, int, int | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(self.periods.values())

    def render(self) -> str:
        lines = [f"Registry {self.folder}"]
        for f in self.files:
            lines.append(f"  {f['file']:<18} {f['rows']:>6} rows  sha256 {f['sha256'][:16]}…")
        for version, block, start, end in self.frameworks:
            lines.append(f"  framework {version} governs {block} {start}–{end or 'open'}")
        for problem in self.problems:
            lines.append(f"  PROBLEM: {problem}")
        for period, failures in sorted(self.periods.items()):
            state = "ok" if not failures else f"{len(failures)} critical failure(s)"
            lines.append(f"  period {period}: framework suite {state}")
            lines += [f"    - {failure}" for failure in failures]
            lines += [f"    ~ warning: {w}" for w in self.warnings.get(period, [])]
        lines.append("registry OK" if self.ok else "registry NOT usable: fix the files named above")
        return "\n".join(lines)


def _first_line(exc: Exception) -> str:
    """DuckDB's first line names the file and the fault; the rest is a list of options."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def check_registry(settings: Settings) -> RegistryReport:
    """Validates ``settings.seeds_dir`` in a temporary warehouse; never raises for bad data."""
    import duckdb

    from dbt_project.runner import DbtFailed, levels_of_an_older_registry, registry_checksums
    from expectations.gate import GateFailed
    from ingest.registry import RegistryError, code_problems, load_registry
    from pipeline import steps

    folder = settings.seeds_dir
    report = RegistryReport(folder=folder)
    if not folder.is_dir():
        report.problems.append(f"{folder} is not a folder")
        return report
    older = levels_of_an_older_registry(folder)
    missing = [
        name
        for name in REQUIRED_FILES
        # a registry written before levels.csv has its levels as columns (docs/levels.md)
        if not (folder / name).is_file() and not (name == "levels.csv" and older is not None)
    ]
    if missing:
        report.problems.append("missing " + ", ".join(missing))
        return report
    con = duckdb.connect()
    try:
        for entry in registry_checksums(folder):
            rows = con.execute(
                "select count(*) from read_csv(?, header = true, all_varchar = true)",
                [str(folder / entry["file"])],
            ).fetchone()[0]
            report.files.append({**entry, "rows": rows})
        # one line per code, before anything reads a code as a path
        report.problems += code_problems(folder)
        if report.problems:
            return report
        try:
            load_registry(con, folder)
        except RegistryError as exc:
            report.problems.append(str(exc))
        except duckdb.Error as exc:
            report.problems.append(f"a registry file cannot be read: {_first_line(exc)}")
        periods = sorted(
            int(r[0])
            for r in con.execute(
                "select distinct cast(period as integer) from read_csv(?, header = true, "
                "all_varchar = true) where trim(period) <> ''",
                [str(folder / "periods.csv")],
            ).fetchall()
        )
        if not report.problems:
            report.frameworks = con.execute(
                "select framework_version, block, valid_from, valid_to from reg_frameworks "
                "order by valid_from, block"
            ).fetchall()
    except duckdb.Error as exc:
        report.problems.append(f"a registry file cannot be read: {_first_line(exc)}")
        return report
    finally:
        con.close()
    if report.problems:
        return report
    if not periods:
        report.problems.append("periods.csv lists no period")
        return report
    with tempfile.TemporaryDirectory(prefix="dti-registry-check-") as scratch:
        checking = replace(
            # (not "registry.duckdb": the catalog would shadow the registry schema)
            settings.with_paths(warehouse=Path(scratch) / "warehouse.duckdb"),
            registry_dir=folder,
        )
        try:
            steps.seed_registry(checking)
        except DbtFailed as exc:
            report.problems.append(f"dbt cannot load the registry: {exc}")
            return report
        for period in periods:
            try:
                run = steps.validate_checkpoint(checking, "framework", period)
            except GateFailed as failed:
                run = failed.run
            report.periods[period] = list(run.critical_failures)
            if run.warnings:
                report.warnings[period] = list(run.warnings)
    return report


def register(
    sub: argparse._SubParsersAction, add_paths, settings_from_args
) -> argparse._SubParsersAction:
    """Adds ``dti registry check``; returns the ``registry`` group for its other commands."""
    registry = sub.add_parser("registry", help="the framework registry: check it, generate rows")
    actions = registry.add_subparsers(dest="registry_command", required=True)
    check = actions.add_parser(
        "check",
        help="validate a registry folder with the framework suite (no warehouse needed)",
    )
    add_paths(check, "registry")

    def run(args: argparse.Namespace) -> int:
        report = check_registry(settings_from_args(args))
        print(report.render())
        return 0 if report.ok else 1

    check.set_defaults(func=run)
    return actions
