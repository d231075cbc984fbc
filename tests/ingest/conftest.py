"""Fixtures of the ingest tests: settings in a temporary folder and small helpers to drop
files into the inbox and read the warehouse back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from dti.settings import Settings

HEADER = "period,unit_code,indicator_code,value,evidence_ref,stage,submitted_at"


@pytest.fixture
def drop(settings: Settings) -> Callable[..., Path]:
    """Writes a file into the inbox, then (unless ``ready=False``) its ``.ready`` flag."""

    def _drop(name: str, content: bytes | str, ready: bool = True) -> Path:
        settings.inbox.mkdir(parents=True, exist_ok=True)
        path = settings.inbox / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        if ready:
            path.with_name(name + ".ready").write_bytes(b"")
        return path

    return _drop


@pytest.fixture
def query(settings: Settings) -> Callable[..., list[tuple]]:
    """Runs a read-only query on the warehouse (opened and closed for each call)."""

    def _query(sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    return _query


def csv_text(*rows: str, header: str = HEADER, newline: str = "\n") -> str:
    return newline.join([header, *rows]) + newline
