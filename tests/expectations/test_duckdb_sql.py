"""Why GX's SQL datasource failed on DuckDB, and that our read-only dialect fixes it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import great_expectations as gx
import pytest
import sqlalchemy as sa

from expectations.duckdb_sql import close_connections, connection_string


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    path = tmp_path / "small.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema s; create table s.t (id bigint, v bigint)")
    con.execute("insert into s.t select range, range % 5 from range(1000)")
    con.close()
    return path


def test_plain_duckdb_engine_loses_the_result_when_the_connection_closes(small_db: Path) -> None:
    """The cause: GX fetches after `with engine.connect()` exits; the close's ROLLBACK runs on
    the same DuckDB connection and replaces its pending result. When this starts to fail,
    duckdb-engine or SQLAlchemy changed and the adapter may no longer be needed."""
    engine = sa.create_engine(f"duckdb:///{small_db}")
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text("select count(*) from s.t"))
        assert result.fetchall() == []
    finally:
        engine.dispose()


def test_read_only_dialect_keeps_the_result_after_close(small_db: Path) -> None:
    engine = sa.create_engine(connection_string(small_db))
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text("select count(*) from s.t"))
        assert result.fetchall() == [(1000,)]
        with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="read-only"):
            connection.execute(sa.text("delete from s.t"))
    finally:
        engine.dispose()
        close_connections()


def test_gx_sql_expectations_run_in_duckdb(small_db: Path) -> None:
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_sql(name="db", connection_string=connection_string(small_db))
    batch = (
        source.add_query_asset(name="t", query="select * from s.t")
        .add_batch_definition_whole_table("all")
        .get_batch()
    )
    between = batch.validate(
        gx.expectations.ExpectColumnValuesToBeBetween(column="v", min_value=0, max_value=3)
    )
    rows = batch.validate(
        gx.expectations.UnexpectedRowsExpectation(
            unexpected_rows_query="select * from {batch} where v > 3"
        ),
        result_format="COMPLETE",
    )
    close_connections()
    assert not between.success
    assert between.result["unexpected_count"] == 200
    assert not rows.success
    assert rows.result["observed_value"] == 200
    assert len(rows.result["details"]["unexpected_rows"]) == 200


def test_closing_connections_frees_the_file_for_a_writer(small_db: Path) -> None:
    engine = sa.create_engine(connection_string(small_db))
    with engine.connect() as connection:
        connection.execute(sa.text("select 1")).fetchall()
    with pytest.raises(duckdb.ConnectionException):
        duckdb.connect(str(small_db)).close()  # still held read-only by the pool
    assert close_connections() >= 1
    writer = duckdb.connect(str(small_db))
    writer.execute("insert into s.t values (1000, 0)")
    writer.close()
