"""Latency from a dropped submission to the republished bundle, on a real Airflow stack.

Not a test: it starts the stack the end-to-end tests use (API server, scheduler, DAG
processor, triggerer on loopback, PostgreSQL metadata database), drops one unit's CSV and its
``.ready`` flag at a time, and times until ``OUT/<period>/results.json`` shows that unit
scored. Prints every drop, the median and the worst case.

    .venv/bin/python -m bench.airflow_latency --drops 5
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from testkit.airflow_stack import (
    drop_submission,
    results_unit,
    running_stack,
    units_of,
    wait_for,
)

log = logging.getLogger("bench.airflow_latency")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.airflow_latency")
    parser.add_argument("--drops", type=int, default=5, help="submissions to drop, one at a time")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait per drop")
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default tmp)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    units = (units_of("so_nganh") + units_of("quan_huyen"))[: args.drops]
    base = args.keep or Path(tempfile.mkdtemp(prefix="dti_airflow_latency_"))
    latencies: list[float] = []
    t0 = time.monotonic()
    with running_stack(base / "stack", _free_port()) as e2e:
        log.info("stack ready in %.0fs; dropping %d submissions", time.monotonic() - t0, len(units))
        for n, unit in enumerate(units, 1):
            e2e.wait_idle(timeout=args.timeout)
            started = time.monotonic()
            drop_submission(e2e.inbox, unit)
            wait_for(
                f"{unit} in results.json",
                lambda u=unit: (r := results_unit(e2e.out, u)) and r.get("status") == "scored",
                args.timeout,
                e2e.stack,
            )
            latencies.append(time.monotonic() - started)
            print(f"drop {n} ({unit}): {latencies[-1]:.1f}s from .ready to bundle", flush=True)
    print(
        f"\n{len(latencies)} drops: median {statistics.median(latencies):.1f}s, "
        f"worst {max(latencies):.1f}s, best {min(latencies):.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
