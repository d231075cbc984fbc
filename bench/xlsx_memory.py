"""`make bench-xlsx`: the peak memory of the release's workbook writer on a national answers
block (500,000 rows), this tree's writer beside ``--before``'s (``BENCH_BEFORE``) in one run.

Each writer runs in its own process; the figure is how far that process's peak resident set
grew while the workbook was written (the rows are generated, never held), so the ratio
compares the writers alone. Target (issue #30): at most 100 MiB on 500,000 rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import checkout
from dti.settings import PROJECT_ROOT

TARGET_MIB = 100

# the child: generated answer rows shaped like a ward block's (50 indicators a unit, names
# and points that recur, evidence that does not)
_CHILD = """
import hashlib, json, resource, sys, time
from decimal import Decimal
from publish import spreadsheet
from publish.answers import COLUMNS, SHEET

rows_wanted = int(sys.argv[1])

def rows():
    for k in range(rows_wanted):
        unit = k // 50
        yield (
            f"P{unit:05d}", f"Phường số {unit}", f"CS{k % 5}", f"CS{k % 5}.{k % 50}",
            f"Chỉ số thành phần {k % 50}", "tiers", Decimal("2.00"), str(k % 7), None, "self",
            Decimal(k % 3), Decimal(k % 3), "false", f"Biên bản {k}",
            "ghi chú" if k % 9 == 0 else None, None, None,
        )

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
data = spreadsheet.workbook(SHEET, COLUMNS, rows(), title="bench")
print(json.dumps({
    "seconds": round(time.perf_counter() - started, 2),
    "growth_mib": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1),
    "xlsx_mib": round(len(data) / 2**20, 1),
    "sha256": hashlib.sha256(data).hexdigest(),
}))
"""


def measure(code: Path, rows: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(rows)],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--before", default=os.environ.get("BENCH_BEFORE") or None)
    args = parser.parse_args(argv)
    figures = {"this tree": measure(PROJECT_ROOT, args.rows)}
    if args.before:
        with tempfile.TemporaryDirectory(prefix="dti-bench-xlsx-") as folder:
            figures[args.before] = measure(checkout(args.before, Path(folder)), args.rows)
    print(f"workbook writer, {args.rows:,} answer rows (target: growth ≤ {TARGET_MIB} MiB)")
    for name, f in figures.items():
        mark = "ok" if f["growth_mib"] <= TARGET_MIB else "MISSED"
        print(
            f"  {name:>12}: peak RSS growth {f['growth_mib']:7.1f} MiB  ({mark})  "
            f"{f['seconds']:6.1f} s  {f['xlsx_mib']} MiB  sha256 {f['sha256'][:12]}"
        )
    if args.before:
        now, then = figures["this tree"], figures[args.before]
        print(
            f"  ratio this/before: memory {now['growth_mib'] / max(then['growth_mib'], 0.1):.2f}×"
        )
        print(f"  same bytes: {'yes' if now['sha256'] == then['sha256'] else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
