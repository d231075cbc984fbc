"""Every setting of the pipeline, declared once and read from the environment in one place.

Each setting is a dataclass field whose metadata names its environment variable, says what
it does and how its text is read. ``load_settings()`` and ``load_orchestration_settings()``
read them; a value that cannot be read (``DTI_MAX_FILE_BYTES=abc``, ``0``) is refused with a
``SettingError`` that names the variable. The settings table of docs/settings.md and the settings
block of ``.env.example`` are generated from these declarations (``python -m dti.settings``),
and a test keeps them in step.

Paths default to ``./data/...`` under the current directory so that a newcomer's first run
needs no configuration; the CLI's flags, the DAGs and the tests override them explicitly.
"""

from __future__ import annotations

import ipaddress
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


class SettingError(ValueError):
    """A setting whose text cannot be read; the message names the variable and what it takes."""


# --- how a variable's text is read -----------------------------------------------------------


def text(raw: str) -> str:
    return raw


def path(raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def _number(kind: type, minimum: float | None, what: str) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw.strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"expected {what}") from None
        # nan compares false with everything and inf passes every minimum: a deadline of
        # either would be a pull that never stops or a limit that never holds
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected {what}, not {raw.strip()!r}")
        if minimum is not None and value < minimum:
            raise ValueError(f"expected {what}")
        return value

    parse.__doc__ = what
    return parse


positive_int = _number(int, 1, "a whole number of at least 1")
non_negative_int = _number(int, 0, "a whole number of at least 0")
positive_float = _number(float, 1e-9, "a number greater than 0")


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def words(raw: str) -> tuple[str, ...]:
    """A comma-separated list (addresses, names); blanks around each item are ignored."""
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if not items:
        raise ValueError("expected a comma-separated list")
    return items


def day_counts(raw: str) -> tuple[int, ...]:
    """Comma-separated whole numbers of days, e.g. ``14,7,1``; returned largest first."""
    try:
        days = {non_negative_int(item) for item in words(raw)}
    except ValueError:
        raise ValueError("expected comma-separated whole numbers of days, e.g. 14,7,1") from None
    return tuple(sorted(days, reverse=True))


def _duration(unit: str) -> Callable[[str], timedelta]:
    amount = _number(float, 1e-9, f"a number of {unit} greater than 0")

    def parse(raw: str) -> timedelta:
        return timedelta(**{unit: amount(raw)})

    return parse


seconds, minutes, hours = _duration("seconds"), _duration("minutes"), _duration("hours")


def setting(
    env: str,
    default: Any,
    help: str,
    parse: Callable[[str], Any] = text,
    *,
    secret: bool = False,
    shown_default: str | None = None,
    default_is_prose: bool = False,
) -> Any:
    """A dataclass field read from ``env``; ``help`` is the line the settings table shows.

    ``shown_default`` is the default as the table shows it when the value itself would not
    read well; ``default_is_prose`` says it describes a rule ("next to the warehouse") rather
    than spelling a value, so the table prints it as text instead of code."""
    metadata = {
        "env": env,
        "help": help,
        "parse": parse,
        "secret": secret,
        "shown_default": shown_default,
        "default_is_prose": default_is_prose,
    }
    return field(default=default, repr=not secret, metadata=metadata)


def _read(cls: type, environ: Mapping[str, str], **given: Any) -> Any:
    """An instance of ``cls`` with each declared field read from ``environ`` unless ``given``."""
    values: dict[str, Any] = dict(given)
    for f in fields(cls):
        env = f.metadata.get("env")
        if f.name in values or env is None:
            continue
        raw = environ.get(env)
        if raw is None or raw.strip() == "":
            continue  # unset or empty: the default
        try:
            values[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            shown = raw if not f.metadata["secret"] else "…"
            raise SettingError(f"{env}={shown!r}: {exc} ({f.metadata['help']})") from None
    return cls(**values)


# --- the pipeline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    inbox: Path = setting(
        "DTI_INBOX", Path("data/inbox"), "folder the senders drop files and `.ready` flags into",
        path, shown_default="./data/inbox",
    )  # fmt: skip
    warehouse: Path = setting(
        "DTI_WAREHOUSE", Path("data/warehouse.duckdb"), "the DuckDB warehouse file", path,
        shown_default="./data/warehouse.duckdb",
    )  # fmt: skip
    out: Path = setting(
        "DTI_OUT", Path("data/out"), "folder the bundles are published into (`OUT/<period>/`)",
        path, shown_default="./data/out",
    )  # fmt: skip
    archive: Path = setting(
        "DTI_ARCHIVE", Path("data/archive"),
        "where every received file is kept, by sha256 (set, it stays where it is when "
        "`--warehouse` moves the warehouse)",
        path, shown_default="archive/ next to the warehouse", default_is_prose=True,
    )  # fmt: skip
    max_file_bytes: int = setting(
        "DTI_MAX_FILE_BYTES", 200 * 1024 * 1024,
        "files larger than this are refused whole (an XLSX is checked after decompression too)",
        positive_int,
    )  # fmt: skip
    # The limits below bound what one refusal can cost (docs/limits.md); each is checked
    # before the work it bounds, so a file over a limit is refused without being expanded.
    max_columns: int = setting(
        "DTI_MAX_COLUMNS", 1000, "columns a CSV header or an XLSX row 1 may have", positive_int
    )
    max_line_bytes: int = setting(
        "DTI_MAX_LINE_BYTES", 1024 * 1024, "bytes one CSV line may have (the header included)",
        positive_int,
    )  # fmt: skip
    max_cells: int = setting(
        "DTI_MAX_CELLS", 1_000_000,
        "cells an XLSX workbook or values a JSON file may hold (they are read into memory)",
        positive_int,
    )  # fmt: skip
    max_json_depth: int = setting(
        "DTI_MAX_JSON_DEPTH", 32, "nesting depth of arrays and objects a JSON file may have",
        positive_int,
    )  # fmt: skip
    max_sheets: int = setting(
        "DTI_MAX_SHEETS", 50, "worksheets an XLSX workbook may have", positive_int
    )
    # A pull resumes from its watermark, so a cap only spreads a large backlog over runs; the
    # defaults bound one run's pull to 1,000 pages of 500 rows (500,000 rows) and 10 minutes.
    portal_max_pages: int = setting(
        "DTI_PORTAL_MAX_PAGES", 1_000,
        "pages one portal API pull may fetch before it stops (500 rows a page: 500,000 rows); "
        "the next run goes on from the watermark", positive_int,
    )  # fmt: skip
    portal_max_page_bytes: int = setting(
        "DTI_PORTAL_MAX_PAGE_BYTES", 32 * 1024 * 1024,
        "bytes one portal API page may have (read as a stream, refused past this)", positive_int,
    )  # fmt: skip
    portal_request_seconds: float = setting(
        "DTI_PORTAL_REQUEST_SECONDS", 60.0,
        "seconds one portal API request may take in all, answer body included", positive_float,
    )  # fmt: skip
    portal_pull_seconds: float = setting(
        "DTI_PORTAL_PULL_SECONDS", 600.0,
        "seconds one portal API pull may take in all, retries included", positive_float,
    )  # fmt: skip
    portal_api_url: str | None = setting(
        "DTI_PORTAL_API_URL", None, "base URL of the portal's submissions API (unset: not pulled)"
    )
    portal_api_token: str | None = setting(
        "DTI_PORTAL_API_TOKEN", None, "bearer token of the portal API", secret=True
    )
    portal_db_dsn: str | None = setting(
        "DTI_PORTAL_DB_DSN", None, "PostgreSQL DSN of the portal database (unset: not pulled)",
        secret=True,
    )  # fmt: skip
    publish_url: str | None = setting(
        "DTI_PUBLISH_URL", None, "the DTI site's bundle endpoint (unset: bundles stay in OUT)"
    )
    publish_token: str | None = setting(
        "DTI_PUBLISH_TOKEN", None, "bearer token of the DTI site", secret=True
    )
    duckdb_memory_limit: str = setting(
        "DTI_DUCKDB_MEMORY_LIMIT", "1500MB", "DuckDB's memory limit while dbt builds the models"
    )
    # A new release waits as a draft until approved (``dti release approve`` or Airflow's
    # Required actions); the DAG reads the same setting.
    publish_requires_approval: bool = setting(
        "DTI_PUBLISH_REQUIRES_APPROVAL", False,
        "a new release stays a draft until a person approves it (`dti release approve` or the "
        "Airflow UI)", boolean,
    )  # fmt: skip
    # What the approver opens: OUT served read-only (`dti release serve`, or any web server), so
    # the approval prompt links the draft instead of naming a folder of the server
    drafts_url: str | None = setting(
        "DTI_DRAFTS_URL", None,
        "base URL where OUT is served read-only to the approvers (`dti release serve`); the "
        "approval prompt links `<url>/.releases/<period>/<n>/index.html` (unset: it says how to "
        "serve the drafts)",
    )  # fmt: skip
    # The council (hội đồng) that approves releases: named approvers, a quorum, signatures
    # (publish/council.py; docs/publishing.md, "Council and signatures")
    approvers: Path | None = setting(
        "DTI_APPROVERS", None,
        "CSV of the named approvers (approver_id, full_name, public_key, valid_from, "
        "revoked_at); set, only they may approve or reject a release, and a final release "
        "needs their approvals to be published (unset: anyone, by any name)", path,
        shown_default="none: anyone may approve", default_is_prose=True,
    )  # fmt: skip
    approval_quorum: int = setting(
        "DTI_APPROVAL_QUORUM", 1,
        "distinct named approvers who must approve a release before it becomes current",
        positive_int,
    )  # fmt: skip
    approval_signing: bool = setting(
        "DTI_APPROVAL_SIGNING", False,
        "each approval and rejection is signed with the approver's Ed25519 key; `dti audit` and "
        "`dti publish` refuse a final release without a quorum of valid signatures", boolean,
    )  # fmt: skip
    approval_keys_dir: Path | None = setting(
        "DTI_APPROVAL_KEYS_DIR", None,
        "folder of the approvers' private keys (`<approver_id>.pem`, `dti council keygen`) for "
        "decisions made in Airflow or without `--key`", path,
        shown_default="none: `dti release approve --key` only", default_is_prose=True,
    )  # fmt: skip
    # dbt's own documentation of the models that computed a release, kept with it for auditors;
    # it costs a `dbt docs generate` per run (the `docs` step of `dti run`), hence the switch
    dbt_docs: bool = setting(
        "DTI_DBT_DOCS", True,
        "build dbt's documentation of the models (`dbt docs generate --static`, one offline "
        "page) into each new release's `audit/` folder", boolean,
    )  # fmt: skip
    # when the statistical audit of a release (audit/thong-ke.html) flags an indicator or a
    # pillar for the council to look at
    audit_weak_correlation: float = setting(
        "DTI_AUDIT_WEAK_CORRELATION", 0.2,
        "the statistical audit flags an indicator whose correlation with the total is below "
        "this in absolute value", positive_float,
    )  # fmt: skip
    audit_extreme_share_pct: float = setting(
        "DTI_AUDIT_EXTREME_SHARE_PCT", 90.0,
        "the statistical audit flags an indicator when this percent of units or more score 0, "
        "or score its maximum", positive_float,
    )  # fmt: skip
    audit_min_alpha: float = setting(
        "DTI_AUDIT_MIN_ALPHA", 0.7,
        "the statistical audit flags a pillar whose Cronbach's alpha is below this",
        positive_float,
    )  # fmt: skip
    # the terms the published results are open under: the operator's decision, named in each
    # release's data package (datapackage.json) by its SPDX identifier
    data_license: str = setting(
        "DTI_DATA_LICENSE", "CC-BY-4.0",
        "licence of the published results, by SPDX identifier, named in each release's "
        "`datapackage.json` (e.g. `CC-BY-4.0`, `CC0-1.0`, `ODC-By-1.0`)",
    )  # fmt: skip
    # anomaly warnings of the `scores` suite: published in the manifest, never blocking
    anomaly_appraisal_gap_points: int = setting(
        "DTI_ANOMALY_APPRAISAL_GAP_POINTS", 30,
        "warn when a unit's self score and final score differ by more than this many points",
        positive_int,
    )  # fmt: skip
    anomaly_identical_min_answers: int = setting(
        "DTI_ANOMALY_IDENTICAL_MIN_ANSWERS", 10,
        "warn when units of a block sent identical self answers on at least this many indicators",
        positive_int,
    )  # fmt: skip
    anomaly_pillar_move_points: int = setting(
        "DTI_ANOMALY_PILLAR_MOVE_POINTS", 20,
        "warn when a unit's pillar score moved more than this many points since the previous "
        "period", positive_int,
    )  # fmt: skip
    # The Data Docs site is rebuilt once per run; older validation pages are pruned from it so
    # that building it stays cheap. The GX result JSON of every run stays (audit.validation_runs
    # names it), and so does the run's row in the audit table.
    data_docs_keep_runs: int = setting(
        "DTI_DATA_DOCS_KEEP_RUNS", 20,
        "validation runs per suite kept as pages in the Data Docs site (older pages are pruned; "
        "their GX result JSON and audit rows stay)", positive_int,
    )  # fmt: skip
    registry_dir: Path | None = setting(
        "DTI_REGISTRY_DIR", None,
        "folder with the framework registry CSVs (frameworks, pillars, indicators, units, "
        "periods, levels, value_words); kept outside the repository, read by ingest and "
        "dbt", path, shown_default="dbt_project/seeds, the bundled HCMC registry",
        default_is_prose=True,
    )  # fmt: skip
    # The dbt project (models, macros, tests). Tests and benchmarks may point it at a copy.
    dbt_project_dir: Path = DBT_PROJECT_DIR
    # The one rule of the paths: a flag (--warehouse) beats its variable (DTI_WAREHOUSE), which
    # beats the default; the archive's default is archive/ next to the warehouse in use, but
    # an archive chosen (DTI_ARCHIVE, or given) stays where it is when the warehouse moves.
    archive_chosen: bool = field(default=False, repr=False, compare=False)

    @property
    def approval_required(self) -> bool:
        """Whether a new release waits as a draft: asked for, or a named council decides every
        release (none is approved without it)."""
        return self.publish_requires_approval or self.approvers is not None

    @property
    def seeds_dir(self) -> Path:
        """The registry in use: ``DTI_REGISTRY_DIR`` (``--registry``), else the bundled seeds."""
        return self.registry_dir or self.dbt_project_dir / "seeds"

    @property
    def work_dir(self) -> Path:
        """Scratch space that belongs to this warehouse (dbt target, GX results, logs)."""
        return self.warehouse.parent / (self.warehouse.stem + "_work")

    def with_paths(self, **paths: Path | str | None) -> Settings:
        """A copy with some paths replaced (``None`` keeps the current value)."""
        changes: dict[str, Any] = {
            k: Path(v).expanduser().resolve() for k, v in paths.items() if v is not None
        }
        if "archive" in changes:
            changes["archive_chosen"] = True
        elif "warehouse" in changes and not self.archive_chosen:
            changes["archive"] = changes["warehouse"].parent / "archive"
        return replace(self, **changes)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    paths = {
        name: path(str(getattr(Settings, name)))
        for name in ("inbox", "warehouse", "out")
        if not (environ.get(f"DTI_{name.upper()}") or "").strip()
    }
    settings = _read(Settings, environ, **paths)
    if not (environ.get("DTI_ARCHIVE") or "").strip():
        return replace(settings, archive=settings.warehouse.parent / "archive")
    return replace(settings, archive_chosen=True)


# --- orchestration (the Airflow DAGs and the local stack) --------------------------------------


@dataclass(frozen=True)
class OrchestrationSettings:
    # The sweep pulls every configured source so an event lost while the triggerer was down
    # (or a portal submission nobody announced) is still loaded.
    sweep_cron: str = setting(
        "DTI_SWEEP_CRON", "*/15 * * * *", "cron of the sweep that pulls every configured source"
    )
    inbox_poll_seconds: float = setting(
        "DTI_INBOX_POLL_SECONDS", 2.0, "how often the inbox watcher looks for new `.ready` flags",
        positive_float,
    )  # fmt: skip
    redis_url: str = setting(
        "DTI_REDIS_URL", "redis://127.0.0.1:6379/0",
        "Redis the portal announces submissions on (the `dti_redis` connection of the stack)",
    )  # fmt: skip
    redis_channel: str = setting(
        "DTI_REDIS_CHANNEL",
        "dti.submissions",
        "Redis pub/sub channel of the portal's announcements",
    )
    redis_poll_seconds: float = setting(
        "DTI_REDIS_POLL_SECONDS", 1.0, "how often the Redis watcher polls its channel",
        positive_float,
    )  # fmt: skip
    approval_timeout: timedelta = setting(
        "DTI_APPROVAL_TIMEOUT_HOURS", timedelta(days=2),
        "hours an approval request waits before it fails", hours, shown_default="48",
    )  # fmt: skip
    retries: int = setting(
        "DTI_TASK_RETRIES", 2, "retries of a failed task (a failed gate is never retried)",
        non_negative_int,
    )  # fmt: skip
    retry_delay: timedelta = setting(
        "DTI_RETRY_DELAY_SECONDS", timedelta(seconds=30),
        "first delay before a retry (doubles each time)", seconds, shown_default="30",
    )  # fmt: skip
    max_retry_delay: timedelta = setting(
        "DTI_MAX_RETRY_DELAY_MINUTES", timedelta(minutes=10), "longest delay between retries",
        minutes, shown_default="10",
    )  # fmt: skip
    # --- who is told, and how (orchestration.notify) ---
    smtp_host: str | None = setting(
        "DTI_SMTP_HOST", None, "SMTP server the notices are sent through (unset: no e-mail)"
    )
    smtp_port: int = setting("DTI_SMTP_PORT", 25, "port of the SMTP server", positive_int)
    smtp_user: str | None = setting(
        "DTI_SMTP_USER", None, "SMTP login (unset: send without logging in)"
    )
    smtp_password: str | None = setting("DTI_SMTP_PASSWORD", None, "SMTP password", secret=True)
    smtp_starttls: bool = setting(
        "DTI_SMTP_STARTTLS", False,
        "upgrade the SMTP connection with STARTTLS (required when DTI_SMTP_USER or "
        "DTI_SMTP_PASSWORD is set, unless DTI_SMTP_HOST is the machine itself)", boolean,
    )  # fmt: skip
    mail_from: str = setting(
        "DTI_MAIL_FROM", "dti-pipeline@localhost", "sender address of the notices"
    )
    mail_to: tuple[str, ...] = setting(
        "DTI_MAIL_TO", (), "who is told (the ICT department), comma-separated addresses",
        words, shown_default="",
    )  # fmt: skip
    webhook_url: str | None = setting(
        "DTI_NOTIFY_WEBHOOK_URL", None,
        "Slack/Mattermost incoming webhook the notices are also posted to (unset: none)",
    )  # fmt: skip
    reminder_days: tuple[int, ...] = setting(
        "DTI_REMINDER_DAYS", (14, 7, 3, 1),
        "days before a period's deadline on which the units still missing are listed to DTI_MAIL_TO",
        day_counts, shown_default="14,7,3,1",
    )  # fmt: skip
    reminder_cron: str = setting(
        "DTI_REMINDER_CRON", "0 8 * * *",
        "cron (Asia/Ho_Chi_Minh) of the daily check that sends the reminders",
    )  # fmt: skip
    run_deadline: timedelta = setting(
        "DTI_RUN_DEADLINE_MINUTES", timedelta(minutes=60),
        "a DAG run still going this long after it was queued raises a deadline alert", minutes,
        shown_default="60",
    )  # fmt: skip
    # --- lineage (orchestration.lineage) ---
    openlineage_url: str | None = setting(
        "DTI_OPENLINEAGE_URL", None,
        "OpenLineage HTTP endpoint, e.g. Marquez's (unset: events go to "
        "<warehouse>_work/openlineage/events.jsonl)",
    )  # fmt: skip
    openlineage_namespace: str = setting(
        "DTI_OPENLINEAGE_NAMESPACE", "dti", "OpenLineage namespace of the DTI jobs"
    )
    airflow_port: int = setting(
        "DTI_AIRFLOW_PORT", 8080, "port of the Airflow UI and API that `make airflow` starts",
        positive_int,
    )  # fmt: skip
    airflow_db: str = setting(
        "DTI_AIRFLOW_DB", "", "PostgreSQL metadata database of `make airflow`",
        shown_default="dti_airflow_<checkout>, one per checkout", default_is_prose=True,
    )  # fmt: skip

    @property
    def metadata_database(self) -> str:
        """``DTI_AIRFLOW_DB``, else a name of this checkout's own: two checkouts on one machine
        never share a metadata database by accident."""
        if self.airflow_db:
            return self.airflow_db
        import hashlib

        return "dti_airflow_" + hashlib.sha256(str(PROJECT_ROOT).encode()).hexdigest()[:8]


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``: a connection that never leaves the machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def load_orchestration_settings(environ: Mapping[str, str] | None = None) -> OrchestrationSettings:
    orchestration = _read(OrchestrationSettings, os.environ if environ is None else environ)
    if (
        orchestration.smtp_host
        and (orchestration.smtp_user or orchestration.smtp_password)
        and not orchestration.smtp_starttls
        and not is_loopback(orchestration.smtp_host)
    ):
        raise SettingError(
            f"DTI_SMTP_USER/DTI_SMTP_PASSWORD được đặt nhưng DTI_SMTP_STARTTLS=false: mật khẩu "
            f"sẽ gửi không mã hoá tới {orchestration.smtp_host}. Đặt DTI_SMTP_STARTTLS=true "
            "(hoặc bỏ đăng nhập nếu máy chủ không cần). — SMTP credentials would go in clear "
            f"to {orchestration.smtp_host}: set DTI_SMTP_STARTTLS=true, or unset DTI_SMTP_USER "
            "and DTI_SMTP_PASSWORD (only a server on this machine, localhost, may take them "
            "without TLS)"
        )
    return orchestration


# --- the settings table, generated -------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """One setting as docs/settings.md and ``.env.example`` show it."""

    env: str
    shown: str  # the default as shown ('' when unset)
    help: str
    secret: bool
    default_is_prose: bool


def declared() -> Iterator[Declared]:
    """Every setting as documented, pipeline first."""
    for cls in (Settings, OrchestrationSettings):
        for f in fields(cls):
            if "env" not in f.metadata:
                continue
            shown = f.metadata["shown_default"]
            if shown is None:
                default = f.default if f.default is not MISSING else None
                shown = (
                    ""
                    if default is None
                    else str(default).lower()
                    if isinstance(default, bool)
                    else str(default)
                )
            yield Declared(
                f.metadata["env"],
                shown,
                f.metadata["help"],
                f.metadata["secret"],
                f.metadata["default_is_prose"],
            )


def markdown_table() -> str:
    lines = ["| variable | default | what it sets |", "|---|---|---|"]
    for d in declared():
        # a value in code type; prose (a default that is a rule, not a value) as it is
        default = "(unset)" if not d.shown else d.shown if d.default_is_prose else f"`{d.shown}`"
        lines.append(f"| `{d.env}` | {default} | {d.help}{' (secret)' if d.secret else ''} |")
    return "\n".join(lines) + "\n"


def env_example() -> str:
    """Every setting as an empty assignment (empty means the default), with what it sets."""
    lines = []
    for d in declared():
        note = " (secret)" if d.secret else f" (default: {d.shown})" if d.shown else ""
        lines += [f"# {d.help}{note}", f"{d.env}="]
    return "\n".join(lines) + "\n"


TABLE_MARKERS = ("<!-- settings:start -->\n", "<!-- settings:end -->")
ENV_MARKERS = ("# --- pipeline settings (generated by `python -m dti.settings`) ---\n",
               "# --- end of pipeline settings ---")  # fmt: skip


def with_generated(document: str, markers: tuple[str, str], body: str) -> str:
    """``document`` with the text between ``markers`` replaced by ``body``."""
    start, end = markers
    head, found, rest = document.partition(start)
    if not found or end not in rest:
        raise ValueError(f"markers {start.strip()!r} … {end!r} not found")
    return head + start + body + end + rest.split(end, 1)[1]


def main() -> int:
    """Rewrites the settings table of docs/settings.md and the settings block of .env.example."""
    for name, markers, body in (
        ("docs/settings.md", TABLE_MARKERS, markdown_table()),
        (".env.example", ENV_MARKERS, env_example()),
    ):
        target = PROJECT_ROOT / name
        target.write_text(with_generated(target.read_text(encoding="utf-8"), markers, body))
        print(f"wrote the settings of {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
