"""Opening the warehouse when another run may hold it: DuckDB has one writer per file.

A second `dti run` (or an Airflow task) started while the first still writes gets DuckDB's raw
"Could not set lock"; this says instead which process holds the warehouse and what to do.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from dti.warehouse_lock import WarehouseBusy, busy

__all__ = ["WarehouseBusy", "connect"]


def _holder(pid: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"PID {pid}"
    command = " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)
    return f"PID {pid} ({command[:200]})"


def connect(warehouse: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, with a lock conflict raised as ``WarehouseBusy`` naming the holder."""
    try:
        return duckdb.connect(str(warehouse), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        found = re.search(r"PID (\d+)", str(exc))
        holder = _holder(found.group(1)) if found else "another process"
        raise busy(warehouse, holder) from None
