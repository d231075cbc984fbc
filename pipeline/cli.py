"""The `dti` command: the whole pipeline without Airflow, and its tools for operators."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from dti.settings import Settings, load_settings
from expectations import cli as expectations_cli
from ingest import cli as ingest_cli
from ingest import registry_cli
from publish import cli as publish_cli


class CliError(Exception):
    """A failure the operator can act on; printed as one line, exit code 1."""


def _paths(parser: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "inbox": "inbox folder (default $DTI_INBOX or ./data/inbox)",
        "warehouse": "DuckDB warehouse file (default $DTI_WAREHOUSE or ./data/warehouse.duckdb)",
        "out": "bundle folder (default $DTI_OUT or ./data/out)",
        "registry": "folder with the registry CSVs (default $DTI_REGISTRY_DIR or the bundled "
        "dbt_project/seeds)",
    }
    for name in names:
        parser.add_argument(f"--{name}", type=Path, default=None, help=helps[name])


def _settings(args: argparse.Namespace) -> Settings:
    paths = {k: getattr(args, k, None) for k in ("inbox", "warehouse", "out")}
    return load_settings().with_paths(**paths, registry_dir=getattr(args, "registry", None))


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


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
    from pipeline import steps as pipeline

    if args.all_periods == bool(args.period):
        raise CliError("give --period (repeated, or a range such as 2023-2025) or --all-periods")
    periods = None if args.all_periods else sorted({p for ps in args.period for p in ps})
    stage = "preliminary" if args.preliminary else "final"
    summaries = pipeline.run_periods(
        _settings(args), periods, full_refresh=args.full_refresh, stage=stage
    )
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
    print(explain.to_json(doc)) if args.json else print(text(doc))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dti", description="Digital Transformation Index (Chỉ số chuyển đổi số) pipeline"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
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
    run.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    run.add_argument("--show-ranking", action="store_true", help="print every unit's rank")
    run.add_argument(
        "--preliminary",
        action="store_true",
        help="publish as preliminary results (công bố sơ bộ): a banner on every page",
    )
    run.set_defaults(func=cmd_run)

    sample = sub.add_parser("sample", help="write the bundled HCMC sample into an inbox")
    sample.add_argument("--period", type=int, default=2023)
    sample.add_argument("--inbox", type=Path, required=True)
    sample.add_argument("--seed", type=int, default=2023)
    _paths(sample, "registry")
    sample.set_defaults(func=cmd_sample)

    explain = sub.add_parser(
        "explain", help="a unit's result (or one indicator) from the answers to the rank"
    )
    explain.add_argument("--period", type=int, required=True)
    explain.add_argument("--unit", required=True, help="unit code")
    explain.add_argument("--indicator", help="one indicator: its every answer and arithmetic")
    explain.add_argument("--json", action="store_true", help="docs/spec/explain.md's JSON")
    _paths(explain, "warehouse", "out")
    explain.set_defaults(func=cmd_explain)

    from pipeline import registry

    registry.register(sub, _paths, _settings)
    _register_plugins(sub)
    registry_cli.register(sub)
    return parser


def _register_plugins(sub: argparse._SubParsersAction) -> None:
    """Subcommands owned by the ingest, expectations and publish packages."""
    for module in (ingest_cli, expectations_cli, publish_cli):
        module.register(sub, _paths, _settings, _print_json)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("dti: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the operator; -v shows the traceback
        if args.verbose:
            logging.exception("dti %s failed", args.command)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        print(f"dti {args.command}: {type(exc).__name__}: {reason}", file=sys.stderr)
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
