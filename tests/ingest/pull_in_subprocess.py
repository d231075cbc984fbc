"""Runs ``ingest_sources`` in a child process, optionally dying inside the load transaction.

Usage: python pull_in_subprocess.py SETTINGS_JSON SOURCE [DIE_IN_COMMIT_N]
The crash is ``os._exit`` (no cleanup, no rollback by Python): like a power cut.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from dti.settings import Settings
from ingest import ingest_sources, ledger, portal_api, portal_db


def main() -> None:
    raw = json.loads(sys.argv[1])
    source = sys.argv[2]
    die_on = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    settings = Settings(
        inbox=Path(raw["inbox"]),
        warehouse=Path(raw["warehouse"]),
        out=Path(raw["out"]),
        archive=Path(raw["archive"]),
        portal_api_url=raw.get("portal_api_url"),
        portal_api_token=raw.get("portal_api_token"),
        portal_db_dsn=raw.get("portal_db_dsn"),
    )
    portal_api.DEFAULT_OPTIONS = portal_api.ApiOptions(page_size=raw.get("page_size", 5))
    portal_db.DEFAULT_OPTIONS = portal_db.DbOptions(batch_size=raw.get("page_size", 5))
    if die_on:
        calls = {"n": 0}
        record = ledger.record

        def record_then_die(con, entries):
            record(con, entries)
            calls["n"] += 1
            if calls["n"] == die_on:  # rows and ledger rows written, not committed
                os._exit(9)

        ledger.record = record_then_die
    ingest_sources(settings, (source,))


if __name__ == "__main__":
    main()
