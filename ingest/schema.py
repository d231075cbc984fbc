"""The ``raw`` schema: what ingest writes and nothing else does (append-only).

Column names and types of ``raw.submission_rows`` are a contract with ``dbt_project/``
(see docs/architecture.md); change them only together with the dbt source.
"""

from __future__ import annotations

import duckdb

SUBMISSION_FIELDS = (
    "period",
    "unit_code",
    "indicator_code",
    "value",
    "evidence_ref",
    "stage",
    "submitted_at",
    "submission_id",
    # optional reasons (docs/spec/submissions.md): the unit's explanation on a self answer,
    # the council member and the reason on an appraisal answer
    "note",
    "appraiser",
    "reason",
)

DDL = """
create schema if not exists raw;

create table if not exists raw.submission_rows (
    period integer not null,
    unit_code varchar not null,
    indicator_code varchar not null,
    value varchar,
    evidence_ref varchar,
    stage varchar not null,
    submitted_at timestamptz not null,
    submission_id varchar not null using compression zstd,
    source varchar not null,
    batch_sha256 varchar not null,
    source_row integer,
    loaded_at timestamptz not null,
    source_updated_at timestamptz,
    note varchar,
    appraiser varchar,
    reason varchar,
    complaint_id varchar
);

create table if not exists raw.complaint_rows (
    complaint_id varchar not null,
    period integer not null,
    unit_code varchar not null,
    indicator_code varchar,
    text varchar not null,
    evidence_ref varchar,
    filed_at timestamptz not null,
    source varchar not null,
    batch_sha256 varchar not null,
    source_row integer,
    loaded_at timestamptz not null,
    -- the portal's updated_at of the item (files: none): a re-delivery is not loaded twice
    source_updated_at timestamptz
);

create table if not exists raw.decision_rows (
    complaint_id varchar not null,
    decision varchar not null,
    reason varchar not null,
    decided_by varchar not null,
    decided_at timestamptz not null,
    source varchar not null,
    batch_sha256 varchar not null,
    source_row integer,
    loaded_at timestamptz not null,
    -- the portal's updated_at of the item (files: none): a re-delivery is not loaded twice
    source_updated_at timestamptz
);

create table if not exists raw.load_ledger (
    batch_sha256 varchar not null,
    source varchar not null,
    source_file varchar not null,
    size_bytes bigint not null,
    received_at timestamptz not null,
    outcome varchar not null,
    reason_code varchar not null,
    reason varchar not null,
    rows_total integer not null,
    rows_loaded integer not null,
    rows_refused integer not null,
    stored_at varchar not null,
    periods integer[]
);

create table if not exists raw.quarantine_rows (
    batch_sha256 varchar not null,
    source varchar not null,
    source_file varchar not null,
    source_row integer,
    reason_code varchar not null,
    reason varchar not null,
    period varchar,
    unit_code varchar,
    indicator_code varchar,
    value varchar,
    evidence_ref varchar,
    stage varchar,
    submitted_at varchar,
    submission_id varchar,
    quarantined_at timestamptz not null
);

create table if not exists raw.watermarks (
    source varchar not null primary key,
    watermark varchar not null,
    watermark_id varchar not null,
    batch_sha256 varchar not null,
    updated_at timestamptz not null
);
"""


# Columns added since the first release, appended to a warehouse created before them
# (``alter table … add column`` appends, so old and new warehouses have the same column order).
MIGRATIONS = (
    # the portal's updated_at of an answer version (docs/spec/submissions.md §8): rows loaded
    # before it have none and are told apart by their batch
    "alter table raw.submission_rows add column if not exists source_updated_at timestamptz",
    # the unit's explanation and the council member and reason (docs/spec/submissions.md)
    *(
        f"alter table raw.submission_rows add column if not exists {column} varchar"
        for column in ("note", "appraiser", "reason")
    ),
    # the complaint whose accepted decision brought an appraisal answer (docs/spec/complaints.md)
    "alter table raw.submission_rows add column if not exists complaint_id varchar",
)


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Creates the ``raw`` schema and its tables when they are missing, and brings an
    older warehouse's tables up to date (``MIGRATIONS``)."""
    con.execute(DDL)
    for statement in MIGRATIONS:
        con.execute(statement)
