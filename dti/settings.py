"""Every setting of the pipeline, read from the environment in one place.

Paths default to ``./data/...`` under the current directory so that a newcomer's first run
needs no configuration; the CLI's flags, the DAGs and the tests override them explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


def _path(env: str, default: str) -> Path:
    return Path(os.environ.get(env) or default).expanduser().resolve()


@dataclass(frozen=True)
class Settings:
    inbox: Path
    warehouse: Path
    out: Path
    archive: Path
    # Files larger than this are refused whole (an XLSX is checked after decompression too).
    max_file_bytes: int = 200 * 1024 * 1024
    portal_api_url: str | None = None
    portal_api_token: str | None = field(default=None, repr=False)
    portal_db_dsn: str | None = field(default=None, repr=False)
    publish_url: str | None = None
    publish_token: str | None = field(default=None, repr=False)
    # A new release waits as a draft until approved (``dti release approve`` or Airflow's
    # Required actions); the DAG reads the same variable (OrchestrationSettings).
    publish_requires_approval: bool = False
    # The dbt project and its seeds (the framework registry). Tests point this at a copy to
    # show that a new year's framework is a data change only.
    dbt_project_dir: Path = DBT_PROJECT_DIR

    @property
    def seeds_dir(self) -> Path:
        return self.dbt_project_dir / "seeds"

    @property
    def work_dir(self) -> Path:
        """Scratch space that belongs to this warehouse (dbt target, GX results, logs)."""
        return self.warehouse.parent / (self.warehouse.stem + "_work")

    def with_paths(self, **paths: Path | str | None) -> Settings:
        """A copy with some paths replaced (``None`` keeps the current value)."""
        changes = {k: Path(v).expanduser().resolve() for k, v in paths.items() if v is not None}
        if "warehouse" in changes and "archive" not in changes:
            changes["archive"] = changes["warehouse"].parent / "archive"
        return replace(self, **changes)


def load_settings() -> Settings:
    warehouse = _path("DTI_WAREHOUSE", "data/warehouse.duckdb")
    return Settings(
        inbox=_path("DTI_INBOX", "data/inbox"),
        warehouse=warehouse,
        out=_path("DTI_OUT", "data/out"),
        archive=_path("DTI_ARCHIVE", str(warehouse.parent / "archive")),
        max_file_bytes=int(os.environ.get("DTI_MAX_FILE_BYTES", 200 * 1024 * 1024)),
        portal_api_url=os.environ.get("DTI_PORTAL_API_URL") or None,
        portal_api_token=os.environ.get("DTI_PORTAL_API_TOKEN") or None,
        portal_db_dsn=os.environ.get("DTI_PORTAL_DB_DSN") or None,
        publish_url=os.environ.get("DTI_PUBLISH_URL") or None,
        publish_token=os.environ.get("DTI_PUBLISH_TOKEN") or None,
        publish_requires_approval=_bool(os.environ.get("DTI_PUBLISH_REQUIRES_APPROVAL"), False),
    )


# --- orchestration (the Airflow DAGs) ---------------------------------------------------------


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class OrchestrationSettings:
    # The sweep pulls every configured source so an event lost while the triggerer was down
    # (or a portal submission nobody announced) is still loaded.
    sweep_cron: str = "*/15 * * * *"
    inbox_poll_seconds: float = 2.0
    redis_channel: str = "dti.submissions"
    redis_poll_seconds: float = 1.0
    publish_requires_approval: bool = False
    approval_timeout: timedelta = timedelta(days=2)
    retries: int = 2
    retry_delay: timedelta = timedelta(seconds=30)
    max_retry_delay: timedelta = timedelta(minutes=10)


def load_orchestration_settings() -> OrchestrationSettings:
    env = os.environ
    return OrchestrationSettings(
        sweep_cron=env.get("DTI_SWEEP_CRON") or OrchestrationSettings.sweep_cron,
        inbox_poll_seconds=float(env.get("DTI_INBOX_POLL_SECONDS") or 2.0),
        redis_channel=env.get("DTI_REDIS_CHANNEL") or OrchestrationSettings.redis_channel,
        redis_poll_seconds=float(env.get("DTI_REDIS_POLL_SECONDS") or 1.0),
        publish_requires_approval=_bool(env.get("DTI_PUBLISH_REQUIRES_APPROVAL"), False),
        approval_timeout=timedelta(hours=float(env.get("DTI_APPROVAL_TIMEOUT_HOURS") or 48)),
        retries=int(env.get("DTI_TASK_RETRIES") or 2),
        retry_delay=timedelta(seconds=float(env.get("DTI_RETRY_DELAY_SECONDS") or 30)),
        max_retry_delay=timedelta(minutes=float(env.get("DTI_MAX_RETRY_DELAY_MINUTES") or 10)),
    )
