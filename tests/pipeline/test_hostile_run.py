"""`dti run` on an inbox holding the sample's good files and the whole hostile corpus
(tests/ingest/hostile_corpus.py) under the default limits: every good unit still scores as the
reference scorer says, within 2 GB of memory, the archive grows by no more than the bytes
received, and no token nor anything outside the inbox is written anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from dti.settings import SEEDS_DIR, Settings
from pipeline.sample import write_sample
from testkit.reference_scoring import read_inbox, score_period
from tests.ingest.hostile_corpus import SECRET, drop_hostile

PERIOD = 2023
TOKEN = "tok-e2e-never-written-9c41"
MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
    "sys.exit(done.returncode)\n"
)


@pytest.mark.e2e
def test_a_hostile_inbox_still_publishes_every_good_unit(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    write_sample(inbox, period=PERIOD)
    good_rows = read_inbox(inbox)
    defaults = Settings()
    limits = {f: getattr(defaults, f) for f in (
        "max_file_bytes", "max_line_bytes", "max_columns", "max_cells", "max_json_depth",
        "max_sheets",
    )}  # fmt: skip
    cases = drop_hostile(inbox, tmp_path / "outside", limits)
    for case in cases:  # the hostile files that load are checked in tests/ingest
        if case.outcome != "refused":
            (inbox / case.name).unlink()
            (inbox / (case.name + ".ready")).unlink()
    received = sum(
        p.stat().st_size
        for p in inbox.iterdir()
        if p.is_file() and not p.is_symlink() and p.stat().st_nlink == 1
        and p.stat().st_size <= defaults.max_file_bytes
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTI_")}
    env |= {"DTI_PORTAL_API_TOKEN": TOKEN, "DTI_PUBLISH_TOKEN": TOKEN}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "pipeline.cli", "run",
         "--period", str(PERIOD), "--inbox", str(inbox),
         "--warehouse", str(tmp_path / "warehouse.duckdb"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    peak_kib = int(done.stdout.strip().splitlines()[-1])
    print(f"peak memory of dti run: {peak_kib / 1024:.0f} MiB")
    assert peak_kib < 2 * 1024 * 1024

    published = json.loads((tmp_path / "out" / str(PERIOD) / "results.json").read_text("utf-8"),
                           parse_float=Decimal)  # fmt: skip
    expected = score_period(good_rows, PERIOD, SEEDS_DIR)
    assert [u["unit_code"] for u in published["units"]] == [u["unit_code"] for u in expected]
    for got, want in zip(published["units"], expected, strict=True):
        for field in ("status", "total_score", "self_score", "applicable_max", "percent",
                      "level", "rank", "unanswered", "late"):  # fmt: skip
            same = (
                Decimal(got[field]) == Decimal(want[field])
                if isinstance(want[field], Decimal) and got[field] is not None
                else got[field] == want[field]
            )
            assert same, (got["unit_code"], field, got[field], want[field])

    archived = sum(p.stat().st_size for p in (tmp_path / "archive").rglob("*") if p.is_file())
    assert archived <= received
    assert (
        sorted(p.name for p in inbox.iterdir() if p.name not in ("processed", "quarantine")) == []
    )
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.parent.name != "outside":
            if path.stat().st_nlink > 1 or path.stat().st_size > 1024**3:
                continue  # the hard link and the sparse file, moved as they were
            data = path.read_bytes()
            assert TOKEN.encode() not in data and SECRET.encode() not in data, path
