"""A read-only DuckDB dialect that lets Great Expectations' SQL datasource run on the warehouse.

Why it exists. GX 1.24 runs every metric query as::

    with engine.connect() as connection:
        result = connection.execute(query)
    return result            # the caller then calls result.fetchall()

so the rows are fetched *after* the SQLAlchemy connection was closed. SQLAlchemy 2.x
"autobegins" a transaction on the first execute and rolls it back on close; duckdb-engine
sends that ``ROLLBACK`` to the same DuckDB connection the query ran on (a DuckDB connection
is its own single cursor, so duckdb-engine's cursor is the connection itself). A DuckDB
connection holds one pending result: the ``ROLLBACK`` replaces it, and the late
``fetchall()`` returns ``[]``. GX then reads ``res[0]`` of the metric bundle and fails every
expectation with ``MetricResolutionError: list index out of range``. (Postgres, Snowflake …
buffer the result client-side, so they never notice.) ``pool_reset_on_return=None`` does not
help: the rollback comes from the connection's own transaction, not from the pool.

The fix. Validation only reads, and DuckDB runs each statement in its own transaction when
none is open, so this dialect makes ``BEGIN``/``COMMIT``/``ROLLBACK`` no-ops and the file is
opened with ``access_mode=read_only`` (nothing can be written through it, and nothing is left
uncommitted). Everything else is duckdb-engine's dialect; its name stays ``duckdb``.

GX also keeps its engines (and their pooled connections) alive inside objects it caches, and a
DuckDB file opened read-only in this process cannot be opened for writing by the same process
until every such connection is closed. The dialect therefore remembers the connections it
opened, and ``close_connections()`` closes them once a validation is over.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from duckdb_engine import Dialect as _DuckDBDialect
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.pool import ConnectionPoolEntry, Pool

DRIVER = "dti_readonly"


_OPEN_CONNECTIONS: weakref.WeakSet[Any] = weakref.WeakSet()
_POOL_ENTRIES: list[ConnectionPoolEntry] = []


class ReadOnlyDuckDBDialect(_DuckDBDialect):
    """duckdb-engine without transactions: the pending result survives the connection's close."""

    supports_statement_cache = False

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        connection = super().connect(*cargs, **cparams)
        _OPEN_CONNECTIONS.add(connection)
        return connection

    def do_begin(self, dbapi_connection: Any) -> None:
        """Each statement runs in DuckDB's implicit auto-commit transaction."""

    def do_commit(self, dbapi_connection: Any) -> None:
        """Nothing to commit: the connection is read-only."""

    def do_rollback(self, dbapi_connection: Any) -> None:
        """A ROLLBACK here would discard the result GX has not fetched yet."""


@event.listens_for(Pool, "connect")
def _remember_pool_entry(dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
    if dbapi_connection in _OPEN_CONNECTIONS:
        _POOL_ENTRIES.append(entry)


def close_connections() -> int:
    """Closes every DuckDB connection this dialect opened; returns how many were open.

    Pools GX still references drop their entries too (``invalidate``), so no DuckDB
    connection object outlives the validation.
    """
    closed = sum(
        1 for connection in list(_OPEN_CONNECTIONS) if not getattr(connection, "closed", True)
    )
    while _POOL_ENTRIES:
        entry = _POOL_ENTRIES.pop()
        if entry.dbapi_connection is not None:
            entry.invalidate()
    for connection in list(_OPEN_CONNECTIONS):
        if not connection.closed:
            connection.close()
        _OPEN_CONNECTIONS.discard(connection)
    return closed


registry.register(f"duckdb.{DRIVER}", __name__, "ReadOnlyDuckDBDialect")


def connection_string(warehouse: Path) -> str:
    """SQLAlchemy URL of the warehouse file, opened read-only through this dialect."""
    return f"duckdb+{DRIVER}:///{warehouse.resolve()}?access_mode=read_only"
