"""Every setting of the pipeline, read from the environment in one place.

Paths default to ``./data/...`` under the current directory so that a newcomer's first run
needs no configuration; the CLI's flags, the DAGs and the tests override them explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
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
    )
