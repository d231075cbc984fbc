"""`dti ingest`, `dti ledger --json` and `dti quarantine --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ingest.cli
from pipeline import cli, jobs
from pipeline.cli import main
from tests.ingest.conftest import csv_text


@pytest.fixture(autouse=True)
def only_the_ingest_plugin(monkeypatch):
    """`dti` as pipeline.cli builds it, with only the ingest plugin (the others import Great
    Expectations, ~20 s); the helpers passed to ``register`` are the real ones."""

    def register(sub):
        ingest.cli.register(sub, cli._paths, cli._settings, cli._print_json, jobs)

    monkeypatch.setattr(cli, "_register_plugins", register)


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_ingest_then_ledger_and_quarantine_as_json(settings, drop, capsys):
    good = csv_text(
        "2023,SO-SNV,NTS.1,có,,self,2023-05-02", "2023,SO-SNV,NTS.4,150,,self,2023-05-02"
    )
    drop("Sở Nội vụ.csv", good)
    drop("legacy.csv", b"period,unit_code\n2023,S\xd4-SNV\n")
    paths = ["--inbox", str(settings.inbox), "--warehouse", str(settings.warehouse)]

    code, out = _run(capsys, "ingest", *paths, "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["partial"], report["refused"], report["rows_loaded"]) == (1, 1, 1)
    assert report["periods"] == [2023]

    code, out = _run(capsys, "ledger", "--warehouse", str(settings.warehouse), "--json")
    assert code == 0
    ledger = {e["source_file"]: e for e in json.loads(out)}
    assert set(ledger) == {"Sở Nội vụ.csv", "legacy.csv"}
    entry = ledger["Sở Nội vụ.csv"]
    assert {k: entry[k] for k in ("outcome", "reason_code", "rows_loaded", "rows_refused")} == {
        "outcome": "partial",
        "reason_code": "rows_refused",
        "rows_loaded": 1,
        "rows_refused": 1,
    }
    assert Path(entry["stored_at"]).is_absolute()
    assert Path(entry["stored_at"]).read_bytes() == good.encode()
    assert len(entry["sha256"]) == 64
    assert ledger["legacy.csv"]["reason_code"] == "not_utf8"
    assert (
        Path(ledger["legacy.csv"]["stored_at"]).read_bytes()
        == b"period,unit_code\n2023,S\xd4-SNV\n"
    )

    code, out = _run(capsys, "quarantine", "--warehouse", str(settings.warehouse), "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert (row["source_file"], row["source_row"], row["reason_code"], row["value"]) == (
        "Sở Nội vụ.csv",
        2,
        "value_out_of_range",
        "150",
    )
    assert "0 to 100" in row["reason"]


def test_ledger_of_a_warehouse_that_does_not_exist_is_refused_in_one_line(tmp_path, capsys):
    # a mistyped path is not an empty history (issue 18: it used to exit 0 silently)
    assert main(["ledger", "--warehouse", str(tmp_path / "none.duckdb"), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"dti ledger: no warehouse at {tmp_path / 'none.duckdb'}")
    assert not (tmp_path / "none.duckdb").exists()


def test_ingest_of_an_unconfigured_portal_exits_1_and_says_what_to_set(
    settings, capsys, monkeypatch
):
    monkeypatch.delenv("DTI_PORTAL_API_URL", raising=False)
    monkeypatch.delenv("DTI_PORTAL_API_TOKEN", raising=False)
    code, out = _run(
        capsys,
        "ingest",
        "--source",
        "portal_api",
        "--warehouse",
        str(settings.warehouse),
        "--inbox",
        str(settings.inbox),
    )
    assert code == 1
    assert "DTI_PORTAL_API_URL" in out
