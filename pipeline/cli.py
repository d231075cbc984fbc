"""The `dti` command: the whole pipeline without Airflow, and its tools for operators."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from dti.settings import Settings, load_settings
from dti.text import TerminalStream, printable, printable_json
from expectations import cli as expectations_cli
from ingest import cli as ingest_cli
from ingest import registry_cli
from publish import cli as publish_cli


class CliError(Exception):
    """A failure the operator can act on; printed as one line, exit code 1."""


# Commands that only read a warehouse: a missing one is a mistyped path, not an empty history.
READS_WAREHOUSE = (
    "ledger", "quarantine", "validate", "audit", "missing", "explain", "complaints",
)  # fmt: skip
# Of those, the ones that only read: they hold the warehouse shared while they run (a job
# that writes is refused meanwhile, not failed halfway); `dti validate` writes the audit
# trail and holds it through its job.
ONLY_READ = ("ledger", "quarantine", "audit", "missing", "explain", "complaints")

# One example per command, using every option it has (tests/pipeline/test_cli.py checks).
EXAMPLES = {
    "run": [
        "dti run --period 2023",
        "dti run --period 2023 --inbox data/inbox --warehouse data/warehouse.duckdb "
        "--out data/out --registry my-registry --show-ranking -v",
        "dti run --period 2023-2025 --period 2019   # a range and one more period",
        "dti run --all-periods --full-refresh   # every period, incremental models rebuilt",
        "dti run --period 2025 --preliminary   # công bố sơ bộ: a banner on every page",
    ],
    "explain": [
        "dti explain --period 2023 --unit QH-4 --warehouse data/warehouse.duckdb --out data/out",
        "dti explain --period 2023 --unit QH-4 --indicator CQS.1 --json",
    ],
    "release": [
        "dti release list --period 2023 --out data/out",
        "dti release approve --period 2023 --release 2 --checksum 3f9a1c2b7d4e "
        "--by 'Nguyễn Văn A' --reason 'đã rà soát'",
        "dti release reject --period 2023 --release 2 --checksum 3f9a1c2b7d4e --by 'Nguyễn Văn A' "
        "--reason 'sai số liệu'",
        "dti release approve --period 2023 --release 2 --checksum 3f9a1c2b7d4e --by nguyenvana "
        "--key ~/.dti/nguyenvana.pem   # DTI_APPROVAL_SIGNING: the decision is signed",
        "dti release rollback --period 2023 --to 1 --by 'Nguyễn Văn A' "
        "--reason 'bản 2 sai số liệu' --out data/out",
        "dti release serve --out data/out --host 127.0.0.1 --port 8766",
    ],
    "council": [
        "dti council list",
        "dti council keygen --approver nguyenvana --name 'Nguyễn Văn A' --dir ~/.dti",
    ],
    "site": [
        "DTI_PUBLISH_TOKEN=T dti site serve --host 127.0.0.1 --port 8765 --root data/site",
        "dti site serve --token-file /etc/dti/site-token --root data/site --max-file-bytes 1073741824",
    ],
    "registry": [
        "dti registry check --registry my-registry",
        "dti registry units --province 79 --block phuong_xa --from 2025 --to 2025 "
        "--registry my-registry",
        "dti registry lineage --province 79 --from 2025 --registry my-registry",
    ],
    "missing": ["dti missing --period 2023 --warehouse data/warehouse.duckdb --json"],
    "complaints": [
        "dti complaints --period 2023 --unit SO-SNV --warehouse data/warehouse.duckdb --json"
    ],
    "sample": ["dti sample --period 2023 --inbox data/inbox --seed 2023 --registry my-registry"],
    "ingest": [
        "dti ingest",
        "dti ingest --source inbox --source portal_api --inbox data/inbox "
        "--warehouse data/warehouse.duckdb --registry my-registry --json",
    ],
    "ledger": ["dti ledger --warehouse data/warehouse.duckdb --json"],
    "quarantine": ["dti quarantine --warehouse data/warehouse.duckdb --json"],
    "validate": [
        "dti validate --checkpoint scores --period 2023 --warehouse data/warehouse.duckdb --json"
    ],
    "audit": ["dti audit --period 2023 --warehouse data/warehouse.duckdb --out data/out --json"],
    "backup": [
        "dti backup --to /mnt/sao-luu/dti-2026-01-15",
        "dti backup --to backups/today --inbox data/inbox --warehouse data/warehouse.duckdb "
        "--archive data/archive --out data/out --registry my-registry --json",
    ],
    "restore": [
        "dti restore --from /mnt/sao-luu/dti-2026-01-15",
        "dti restore --from backups/today --inbox new/inbox --warehouse new/warehouse.duckdb "
        "--archive new/archive --out new/out --registry new/registry --json",
    ],
    "publish": [
        "dti publish --period 2023 --to https://dti.example.gov.vn/api/bundles "
        "--out data/out --attempts 5"
    ],
}


def _paths(parser: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "inbox": "inbox folder (default $DTI_INBOX or ./data/inbox), e.g. data/inbox",
        "warehouse": "DuckDB warehouse file (default $DTI_WAREHOUSE or "
        "./data/warehouse.duckdb), e.g. data/warehouse.duckdb",
        "out": "bundle folder (default $DTI_OUT or ./data/out), e.g. data/out",
        "archive": "raw archive folder (default $DTI_ARCHIVE or archive/ next to the "
        "warehouse), e.g. data/archive",
        "registry": "folder with the registry CSVs (default $DTI_REGISTRY_DIR or the bundled "
        "dbt_project/seeds), e.g. my-registry",
    }
    for name in names:
        parser.add_argument(f"--{name}", type=Path, default=None, help=helps[name])


def _settings(args: argparse.Namespace) -> Settings:
    paths = {k: getattr(args, k, None) for k in ("inbox", "warehouse", "out", "archive")}
    return load_settings().with_paths(**paths, registry_dir=getattr(args, "registry", None))


def _describe_paths(args: argparse.Namespace) -> str:
    """The paths this command uses and where each came from (``dti -v``): a flag beats its
    variable, which beats the default; the archive follows the warehouse unless DTI_ARCHIVE
    chose it (``Settings.with_paths``)."""
    settings = _settings(args)
    parts = []
    for name, env in (("inbox", "DTI_INBOX"), ("warehouse", "DTI_WAREHOUSE"), ("out", "DTI_OUT"),
                      ("archive", "DTI_ARCHIVE"), ("registry", "DTI_REGISTRY_DIR")):  # fmt: skip
        if getattr(args, name, None) is not None:
            source = f"--{name}"
        elif (os.environ.get(env) or "").strip():
            source = env
        elif name == "archive":
            source = "next to the warehouse"
        else:
            source = "default"
        value = settings.seeds_dir if name == "registry" else getattr(settings, name)
        parts.append(f"{name} {printable(str(value))} ({source})")
    return "paths: " + "; ".join(parts)


def _print_json(data: object) -> None:
    print(printable_json(json.dumps(data, ensure_ascii=False, indent=2, default=str)))


def period_spec(text: str) -> list[int]:
    """``2023`` or a range ``2023-2025`` (both ends included)."""
    first, dash, last = text.strip().partition("-")
    try:
        start = int(first)
        end = int(last) if dash else start
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a period (2023) or a range of periods (2023-2025)"
        ) from None
    if not (1000 <= start <= end <= 9999):
        raise argparse.ArgumentTypeError(
            f"{text!r}: periods are four-digit years, a range goes from the earlier to the later"
        )
    return list(range(start, end + 1))


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline import jobs
    from pipeline.progress import StepProgress

    if args.all_periods == bool(args.period):
        raise CliError("give --period (repeated, or a range such as 2023-2025) or --all-periods")
    periods = None if args.all_periods else sorted({p for ps in args.period for p in ps})
    publication = "preliminary" if args.preliminary else "final"
    progress = StepProgress()
    try:
        summaries = jobs.run(
            _settings(args), periods, full_refresh=args.full_refresh, publication=publication,
            progress=progress,
        )  # fmt: skip
    finally:
        progress.close()
    print("\n\n".join(s.render(show_ranking=args.show_ranking) for s in summaries))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from pipeline.sample import write_sample

    written = write_sample(
        Path(args.inbox), period=args.period, seed=args.seed, seeds_dir=_settings(args).seeds_dir
    )
    print(f"wrote {len(written)} submission files with .ready flags into {args.inbox}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from pipeline import explain, explain_text

    settings = _settings(args)
    if args.indicator:
        doc = explain.explain_indicator(settings, args.period, args.unit, args.indicator)
        text = explain_text.render_indicator
    else:
        doc = explain.explain_unit(settings, args.period, args.unit)
        text = explain_text.render_unit
    print(printable_json(explain.to_json(doc)) if args.json else text(doc))
    return 0


VERBOSE_HELP = "log what each step does to stderr (also after the command: dti run -v)"


def cmd_missing(args: argparse.Namespace) -> int:
    from pipeline import jobs

    try:
        report = jobs.missing_answers(_settings(args), args.period)
    except LookupError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.render())
    return 0


def cmd_complaints(args: argparse.Namespace) -> int:
    from pipeline import jobs

    try:
        report = jobs.complaints(_settings(args), args.period, args.unit)
    except LookupError as exc:
        raise CliError(str(exc)) from None
    _print_json(report.to_dict()) if args.json else print(report.render())
    return 0


def _backup_summary(manifest: dict, verb: str, where: Path) -> str:
    files = manifest["files"]
    size = sum(int(f["size_bytes"]) for f in files)
    return (
        f"Đã {verb} {len(files)} tệp ({size / 1024 / 1024:.1f} MB), "
        f"{len(manifest['symlinks'])} liên kết tượng trưng và {len(manifest['links'])} liên kết "
        f"cứng {'vào' if verb == 'sao lưu' else 'từ'} {where}; mỗi tệp có sha256 trong "
        f"manifest.json (tạo lúc {manifest['created_at']}, DuckDB {manifest['duckdb_version']})."
    )


def cmd_backup(args: argparse.Namespace) -> int:
    from dti.backup import BackupError
    from pipeline import jobs

    try:
        manifest = jobs.backup(_settings(args), args.to)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(
            {k: v for k, v in manifest.items() if k not in ("files", "links", "symlinks")}
            | {"files": len(manifest["files"]), "to": str(args.to.resolve())}
        )
    else:
        print(_backup_summary(manifest, "sao lưu", args.to.resolve()))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from dti.backup import BackupError
    from pipeline import jobs

    settings = _settings(args)
    try:
        manifest = jobs.restore(settings, args.source)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(
            {
                "from": str(args.source.resolve()),
                "files": len(manifest["files"]),
                "warehouse": str(settings.warehouse),
                "out": str(settings.out),
                "created_at": manifest["created_at"],
            }
        )
    else:
        print(_backup_summary(manifest, "khôi phục", args.source.resolve()))
        print(f"Kho dữ liệu: {settings.warehouse}; bản công bố: {settings.out}.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dti", description="Digital Transformation Index (Chỉ số chuyển đổi số) pipeline"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="ingest, build, validate and publish one or more periods in one warehouse"
    )
    run.add_argument(
        "--period", type=period_spec, action="append", default=[],
        help="a period (2023) or a range (2023-2025); repeat it for several",
    )  # fmt: skip
    run.add_argument(
        "--all-periods", action="store_true",
        help="every period that has answers in the warehouse (after this run's ingest)",
    )  # fmt: skip
    _paths(run, "inbox", "warehouse", "out", "registry")
    run.add_argument(
        "--full-refresh", action="store_true", help="rebuild incremental models from scratch"
    )
    run.add_argument(
        "--show-ranking", action="store_true", help="print every unit's rank, not only the top 3"
    )
    run.add_argument(
        "--preliminary",
        action="store_true",
        help="publish as preliminary results (công bố sơ bộ): a banner on every page",
    )
    run.set_defaults(func=cmd_run)

    explain = sub.add_parser(
        "explain", help="a unit's result (or one indicator) from the answers to the rank"
    )
    explain.add_argument("--period", type=int, required=True, help="period, e.g. 2023")
    explain.add_argument("--unit", required=True, help="unit code, e.g. QH-4")
    explain.add_argument(
        "--indicator", help="one indicator: its every answer and arithmetic, e.g. CQS.1"
    )
    explain.add_argument("--json", action="store_true", help="docs/spec/explain.md's JSON")
    _paths(explain, "warehouse", "out")
    explain.set_defaults(func=cmd_explain)

    missing = sub.add_parser(
        "missing",
        help="units that have not answered a period yet, their unanswered indicators, the deadline",
    )
    missing.add_argument("--period", type=int, required=True, help="period to look at, e.g. 2023")
    missing.add_argument("--json", action="store_true", help="print the list as JSON")
    _paths(missing, "warehouse")
    missing.set_defaults(func=cmd_missing)

    complaints = sub.add_parser(
        "complaints",
        help="a period's complaints (kiến nghị): open, accepted, rejected, late, answers changed",
    )
    complaints.add_argument("--period", type=int, required=True, help="period, e.g. 2023")
    complaints.add_argument("--unit", help="one unit's complaints, e.g. SO-SNV")
    complaints.add_argument("--json", action="store_true", help="print the list as JSON")
    _paths(complaints, "warehouse")
    complaints.set_defaults(func=cmd_complaints)

    sample = sub.add_parser("sample", help="write the bundled HCMC sample into an inbox")
    sample.add_argument(
        "--period", type=int, default=2023, help="period of the sample (default 2023), e.g. 2024"
    )
    sample.add_argument(
        "--inbox", type=Path, required=True, help="folder to write into, e.g. data/inbox"
    )
    sample.add_argument(
        "--seed", type=int, default=2023, help="random seed of the sample (default 2023), e.g. 7"
    )
    _paths(sample, "registry")
    sample.set_defaults(func=cmd_sample)

    backup = sub.add_parser(
        "backup",
        help="copy the warehouse, archive, inbox, registry, releases and validation store into "
        "a new folder, with a manifest of sha256 (holds the warehouse meanwhile)",
    )
    backup.add_argument(
        "--to", type=Path, required=True, help="a new or empty folder, e.g. backups/2026-01-15"
    )
    backup.add_argument("--json", action="store_true", help="print the manifest's summary as JSON")
    _paths(backup, "inbox", "warehouse", "archive", "out", "registry")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser(
        "restore",
        help="bring a backup back into empty places (these flags or the DTI_* settings); a "
        "damaged or partial backup is refused before anything is written",
    )
    restore.add_argument(
        "--from", dest="source", type=Path, required=True,
        help="the folder dti backup wrote, e.g. backups/2026-01-15",
    )  # fmt: skip
    restore.add_argument("--json", action="store_true", help="print what was restored as JSON")
    _paths(restore, "inbox", "warehouse", "archive", "out", "registry")
    restore.set_defaults(func=cmd_restore)

    from pipeline import registry

    registry_commands = registry.register(sub, _paths, _settings)
    registry_cli.register(registry_commands)

    _register_plugins(sub)
    for name, command in sub.choices.items():
        # `dti run -v` as well as `dti -v run`; SUPPRESS keeps the top-level value otherwise.
        command.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        if name in EXAMPLES:
            command.epilog = "examples:\n" + "\n".join(f"  {e}" for e in EXAMPLES[name])
    return parser


def _register_plugins(sub: argparse._SubParsersAction) -> None:
    """Subcommands whose arguments and output the ingest, expectations and publish packages
    own; the work is done by the jobs handed to them (``pipeline.jobs``, one door)."""
    from pipeline import jobs

    for module in (ingest_cli, expectations_cli, publish_cli):
        module.register(sub, _paths, _settings, _print_json, jobs)


# Loggers that speak at INFO about themselves rather than about the data: Great Expectations
# registers ~200 functions and metrics on import, each with an INFO line.
QUIET_LOGGERS = ("great_expectations",)


def _configure_logging(verbose: bool) -> None:
    """Before anything heavy is imported, so the noise is never emitted."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Runs one command; whatever it prints to stdout goes through ``dti.text.terminal_text``
    (one filter for every human command: data fields are escaped where they are rendered,
    and nothing that slipped through can drive the terminal)."""
    stdout = sys.stdout
    sys.stdout = TerminalStream(stdout)
    try:
        return _main(argv)
    finally:
        sys.stdout = stdout


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        if args.verbose:  # the paths in use, before anything is opened
            print(f"dti {args.command}: {_describe_paths(args)}", file=sys.stderr)
        if args.command in READS_WAREHOUSE:
            warehouse = _settings(args).warehouse
            if not warehouse.is_file():
                print(
                    f"dti {args.command}: no warehouse at {printable(str(warehouse))}; "
                    "pass --warehouse (or set "
                    "DTI_WAREHOUSE) to an existing one, or create it with dti ingest / dti run",
                    file=sys.stderr,
                )
                return 1
            from dti.warehouse_lock import hold

            if args.command in ONLY_READ:
                with hold(warehouse, f"dti {args.command}", shared=True):
                    return args.func(args)
        return args.func(args)
    except KeyboardInterrupt:
        print("dti: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the operator; -v shows the traceback
        if args.verbose:
            logging.exception("dti %s failed", args.command)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, CliError):
            reason = f"{type(exc).__name__}: {reason}"
        print(f"dti {args.command}: {printable(reason)}", file=sys.stderr)
        return 1


def entry() -> None:
    """The console script: ``main`` and then an immediate exit.

    DuckDB 2.0's nanobind bindings print about a hundred "nanobind: leaked ..." lines at
    interpreter shutdown once Great Expectations and duckdb-engine were imported; skipping the
    interpreter's teardown keeps a failure's one-line reason the only thing on stderr. dbt's
    multiprocessing semaphores are then reclaimed by the resource tracker, whose notice about
    them is silenced in the same spirit (the tracker inherits this environment).
    """
    os.environ.setdefault("PYTHONWARNINGS", "ignore:resource_tracker:UserWarning")
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
