"""`make bench-rush`: the deadline rush on the real `make airflow` stack.

N submissions (``--submissions``, default 1,000) arrive over T minutes (``--minutes``,
default 10) through the three doors — inbox files with their ``.ready`` flags, portal rows
announced on Redis, portal API items announced on Redis — with revisions, re-deliveries and a
council correction mixed in. In the middle the triggerer is restarted and the scheduler is
killed with SIGKILL and started again. The stand-in DTI site (``dti site serve``) receives
every push; its ``results.json`` is polled and each submission's effect is timed from its
arrival. At the end the site's bundle is compared with the reference scorer on everything
sent, and the warehouse is checked for rows lost or loaded twice.

    .venv/bin/python -m bench.rush --submissions 100 --minutes 3

Writes the figures under ``deadline_rush`` in bench/results.json (other keys kept) and prints
a table. Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.results import merge_results
from bench.rush_plan import (
    AnswerPool,
    Submission,
    arrival_plan,
    expected_states,
    latency_figures,
    percentile,
    publish_times,
    sent_rows,
    site_states,
    split_latency,
    superseded_before_shown,
)
from dti.settings import PROJECT_ROOT, SEEDS_DIR
from dti.vocabulary import READY_SUFFIX

log = logging.getLogger("bench.rush")

RESULTS = PROJECT_ROOT / "bench" / "results.json"
SITE_TOKEN = "rush-site-token"
PORTAL_TOKEN = "rush-portal-token"
SAMPLE_SEEDS = (2023, 1, 2, 3)
POLL_SECONDS = 0.5
SAMPLE_SECONDS = 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the senders --------------------------------------------------------------------------


class Doors:
    """Delivers a submission the way its door does; returns the wall time it arrived."""

    def __init__(self, e2e: Any, portal: Any, channel: str) -> None:
        import psycopg2
        import redis

        self.inbox = e2e.inbox
        self.portal = portal
        self.channel = channel
        self.db = psycopg2.connect(e2e.portal_dsn)
        self.db.autocommit = True
        self.redis = redis.Redis(host="127.0.0.1", port=6379)
        self.announcements = 0
        self.redis_listeners: list[int] = []

    def close(self) -> None:
        self.db.close()
        self.redis.close()

    def _announce(self, submission: Submission) -> None:
        message = {"period": int(submission.rows[0]["period"]), "units": list(submission.units),
                   "submission": submission.seq}  # fmt: skip
        self.redis_listeners.append(int(self.redis.publish(self.channel, json.dumps(message))))
        self.announcements += 1

    def send(self, submission: Submission, original: Submission | None) -> float:
        if submission.door == "inbox":
            # a re-delivery is the same bytes again: every other one under the same name with
            # its flag touched again, the others under a new name (a sender sending twice)
            if original is not None and submission.seq % 2:
                path = self.inbox / original.file_name
            elif original is not None:
                path = self.inbox / f"again_{submission.seq:05d}_{original.file_name}"
            else:
                path = self.inbox / submission.file_name
            path.write_bytes((original or submission).file_bytes())
            flag = path.with_name(path.name + READY_SUFFIX)
            flag.write_bytes(b"")
            os.utime(flag)
            return time.time()
        if original is None and submission.door == "portal_db":
            with self.db.cursor() as cur:
                for n, row in enumerate(submission.rows):
                    cur.execute(
                        "insert into portal_submissions (id, period, unit_code, indicator_code, "
                        "value, evidence_ref, stage, submitted_at) values (%s,%s,%s,%s,%s,%s,%s,%s)",
                        (submission.portal_id(n), row["period"], row["unit_code"],
                         row["indicator_code"], row["value"], row["evidence_ref"], row["stage"],
                         row["submitted_at"]),
                    )  # fmt: skip
        elif original is None:
            for n, row in enumerate(submission.rows):
                # strictly increasing updated_at: the puller's watermark moves past each item
                updated_at = datetime.now(UTC).isoformat(timespec="microseconds")
                self.portal.items.append({"id": submission.portal_id(n),
                                          "updated_at": updated_at, **row, "period": int(row["period"])})  # fmt: skip
        self._announce(submission)  # a re-delivery on the portal: the same announcement again
        return time.time()


# --- the watchers of the run: site, processes ---------------------------------------------


class SitePoller(threading.Thread):
    """Polls the stand-in site's results.json; keeps every distinct version with its time."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.observations: list[tuple[float, dict]] = []
        self.last = b""
        self.stopping = threading.Event()

    def poll_once(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=10) as response:
                body = response.read()
        except (urllib.error.URLError, OSError):
            return
        if body != self.last:
            self.observations.append((time.time(), site_states(body)))
            self.last = body

    def run(self) -> None:
        while not self.stopping.is_set():
            self.poll_once()
            self.stopping.wait(POLL_SECONDS)


class ResourceSampler(threading.Thread):
    """CPU and memory of the stack's processes (each service with its workers and tasks)."""

    def __init__(self, stack: Any) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.stopping = threading.Event()
        self.cpu: dict[int, float] = {}  # pid -> last CPU seconds seen
        self.peak_rss_mib = 0.0
        self.peak_process: tuple[float, str] = (0.0, "")
        self.rss_samples: list[float] = []
        self.started = time.time()

    def sample(self) -> None:
        import psutil

        total_rss = 0
        for service, proc in list(self.stack.processes.items()):
            try:
                root = psutil.Process(proc.pid)
                family = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for p in family:
                try:
                    times = p.cpu_times()
                    rss = p.memory_info().rss
                    name = f"{service}: {' '.join(p.cmdline()[1:])[:80]}"
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                self.cpu[p.pid] = times.user + times.system
                total_rss += rss
                if rss / 2**20 > self.peak_process[0]:
                    self.peak_process = (rss / 2**20, name)
        self.rss_samples.append(total_rss / 2**20)
        self.peak_rss_mib = max(self.peak_rss_mib, total_rss / 2**20)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(SAMPLE_SECONDS)

    def figures(self) -> dict[str, Any]:
        wall = time.time() - self.started
        cpu = sum(self.cpu.values())
        return {
            "cpu_seconds": round(cpu, 1),
            "cpu_cores_busy_mean": round(cpu / wall, 2) if wall else None,
            "rss_mib_peak": round(self.peak_rss_mib),
            "rss_mib_mean": round(statistics.fmean(self.rss_samples)) if self.rss_samples else None,
            "largest_process_mib": round(self.peak_process[0]),
            "largest_process": self.peak_process[1],
            "note": "CPU of processes alive at a sample (every 2 s): a task that starts and "
            "ends between two samples is missed, so this is a lower bound",
        }


# --- what Airflow did -----------------------------------------------------------------------


def _epoch(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


def airflow_figures(e2e: Any) -> dict[str, Any]:
    """DAG runs per DAG and type, watcher events, and how events were coalesced into runs."""
    runs: dict[str, dict[str, int]] = {}
    for dag_id, run_type, state, count in e2e.query(
        "select dag_id, run_type, state, count(*) from dag_run where dag_id like 'dti_%%' "
        "group by 1, 2, 3 order by 1, 2, 3"
    ):
        runs.setdefault(dag_id, {})[f"{run_type}:{state}"] = int(count)
    events = dict(e2e.query(
        "select a.name, count(*) from asset_event e join asset a on a.id = e.asset_id group by 1"
    ))  # fmt: skip
    consumed = e2e.query(
        "select r.dag_id, count(distinct r.id), count(ae.event_id) from dag_run r "
        "join dagrun_asset_event ae on ae.dag_run_id = r.id where r.dag_id like 'dti_%%' "
        "group by 1"
    )
    coalesced = {
        dag_id: {"runs": int(n_runs), "events_consumed": int(n_events),
                 "events_per_run": round(n_events / n_runs, 2)}
        for dag_id, n_runs, n_events in consumed
    }  # fmt: skip
    tasks = {}
    for dag_id, task_id, n, run_s, wait_s, p95_s, states in e2e.query(
        "select dag_id, task_id, count(*), avg(extract(epoch from end_date - start_date)), "
        "avg(extract(epoch from start_date - queued_dttm)), "
        "percentile_disc(0.95) within group (order by extract(epoch from end_date - start_date)), "
        "string_agg(distinct state, ',') "
        "from task_instance where dag_id like 'dti_%%' group by 1, 2 order by 1, 2"
    ):
        tasks[f"{dag_id}.{task_id}"] = {
            "count": int(n),
            "run_s_mean": round(float(run_s or 0), 2),
            "run_s_p95": round(float(p95_s or 0), 2),
            "queued_s_mean": round(float(wait_s or 0), 2),
            "states": states,
        }
    # an event that arrives while its DAG's next run waits (max_active_runs) is left out of
    # that run's window and its queue entry deleted: only a later event brings it in
    never_consumed = dict(e2e.query(
        "select a.name, count(*) from asset_event e join asset a on a.id = e.asset_id "
        "where a.name in ('dti_raw_submissions', 'dti_marts_validated') and not exists "
        "(select 1 from dagrun_asset_event ae where ae.event_id = e.id) group by 1"
    ))  # fmt: skip
    return {"dag_runs": runs, "asset_events": events, "coalesced": coalesced, "tasks": tasks,
            "events_never_consumed": never_consumed}  # fmt: skip


def time_breakdown(
    e2e: Any,
    plan: list[Submission],
    arrivals: dict[int, float],
    published: dict[int, float],
    batch_of: dict[str, str],
) -> dict[str, Any]:
    """Where each published submission's time went, along the runs that carried it: the ingest
    run that loaded its rows, the transform run that consumed that run's event, the publish
    run that consumed the transform's. Each milestone is held between the one before and the
    moment the site showed it, so the segments add up to the latency (a bundle may show a
    submission before its own publish run, when an earlier run's bundle read newer marts)."""
    event_of_batch: dict[str, tuple[int, str]] = {}
    for event_id, extra, run_id in e2e.query(
        "select e.id, e.extra, e.source_run_id from asset_event e join asset a "
        "on a.id = e.asset_id where a.name = 'dti_raw_submissions' order by e.id"
    ):
        extra = extra if isinstance(extra, dict) else json.loads(extra or "{}")
        for batch in extra.get("batches", []):
            event_of_batch.setdefault(batch["batch_sha256"], (event_id, run_id))
    task_times = {
        (dag_id, run_id, task_id): (_epoch(start), _epoch(end))
        for dag_id, run_id, task_id, start, end in e2e.query(
            "select dag_id, run_id, task_id, start_date, end_date from task_instance "
            "where dag_id like 'dti_%%' and state = 'success'"
        )
    }
    run_times = {
        (dag_id, run_id): (_epoch(start), _epoch(end))
        for dag_id, run_id, start, end in e2e.query(
            "select dag_id, run_id, start_date, end_date from dag_run where dag_id like 'dti_%%'"
        )
    }
    consumer = {
        (event_id, dag_id): run_id
        for event_id, dag_id, run_id in e2e.query(
            "select ae.event_id, r.dag_id, r.run_id from dagrun_asset_event ae "
            "join dag_run r on r.id = ae.dag_run_id"
        )
    }
    marts_event = dict(
        (run_id, event_id)
        for event_id, run_id in e2e.query(
            "select e.id, e.source_run_id from asset_event e join asset a on a.id = e.asset_id "
            "where a.name = 'dti_marts_validated'"
        )
    )
    names = (
        "arrival → its ingest task starts (watcher, scheduler, the ingest run before it, pool)",
        "ingest task (read, judge, load)",
        "loaded → its transform run ends (the transform before it, dbt build, 4 gates)",
        "validated → its publish run ends (pool, bundle, push)",
        "pushed → seen on the site (poll)",
    )
    segments: dict[str, list[float]] = {name: [] for name in names}
    untraced = 0
    for s in plan:
        if s.seq not in published:
            continue
        batch = batch_of.get(s.keyed_rows()[0]["submission_id"])
        raw_event, ingest_run = event_of_batch.get(batch, (None, None))
        transform_run = consumer.get((raw_event, "dti_transform"))
        publish_run = consumer.get((marts_event.get(transform_run), "dti_publish"))
        ingest = task_times.get(("dti_ingest", ingest_run, "ingest_submissions"))
        transform = run_times.get(("dti_transform", transform_run))
        publish = run_times.get(("dti_publish", publish_run))
        if not (ingest and transform and publish) or None in (*ingest, transform[1], publish[1]):
            untraced += 1
            continue
        moments = (ingest[0], ingest[1], transform[1], publish[1])
        spans = split_latency(arrivals[s.seq], published[s.seq], moments)
        for name, span in zip(names, spans, strict=True):
            segments[name].append(span)
    return {
        "submissions_traced": len(segments[names[0]]),
        # a submission whose events no run consumed (see "events never consumed")
        "submissions_untraced": untraced,
        "segments": {
            name: {
                "p50_s": round(percentile(v, 0.5), 1),
                "p95_s": round(percentile(v, 0.95), 1),
                "mean_s": round(statistics.fmean(v), 1),
            }
            for name, v in segments.items()
            if v
        },  # fmt: skip
    }


# --- the checks at the end -------------------------------------------------------------------


def warehouse_figures(warehouse: Path, plan: list[Submission]) -> tuple[dict, dict[str, str]]:
    """Rows per source against rows sent, answer versions loaded twice, the ledger's outcomes;
    and the batch each submission id was loaded in."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        loaded = dict(
            con.execute("select source, count(*) from raw.submission_rows group by 1").fetchall()
        )
        twice = con.execute(
            "select count(*) from (select source, submission_id, source_updated_at "
            "from raw.submission_rows group by all having count(*) > 1)"
        ).fetchone()[0]
        outcomes = dict(
            con.execute("select outcome, count(*) from raw.load_ledger group by 1").fetchall()
        )
        batch_of = dict(
            con.execute("select submission_id, batch_sha256 from raw.submission_rows").fetchall()
        )
    finally:
        con.close()
    sent: dict[str, int] = {}
    for s in plan:
        if s.kind != "redelivery":
            sent[s.door] = sent.get(s.door, 0) + len(s.rows)
    figures = {
        "rows_sent": sent,
        "rows_loaded": loaded,
        "answer_versions_loaded_twice": int(twice),
        "ledger_outcomes": outcomes,
        "inbox_redeliveries": sum(1 for s in plan if s.kind == "redelivery" and s.door == "inbox"),
    }
    figures["nothing_lost_nothing_twice"] = loaded == sent and not twice
    return figures, batch_of


def reference_check(site_json: bytes, plan: list[Submission], period: int) -> dict[str, Any]:
    """The site's final bundle against the reference scorer on every row sent."""
    from testkit.reference_scoring import score_period

    published = json.loads(site_json, parse_float=Decimal)["units"]
    expected = score_period(sent_rows(plan), period, SEEDS_DIR)
    fields = ("unit_code", "status", "total_score", "self_score", "applicable_max", "percent",
              "level", "rank")  # fmt: skip

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, Decimal | int | float) or isinstance(b, Decimal | int | float):
            return a is not None and b is not None and Decimal(str(a)) == Decimal(str(b))
        return a == b

    differences = []
    if [u["unit_code"] for u in published] != [u["unit_code"] for u in expected]:
        differences.append("the units or their order differ")
    for got, want in zip(published, expected, strict=False):
        for name in fields:
            if not same(got.get(name), want.get(name)):
                differences.append(f"{want['unit_code']} {name}: site {got.get(name)} "
                                   f"reference {want.get(name)}")  # fmt: skip
        got_pillars = [(p["pillar_code"], Decimal(str(p["score"]))) for p in got["pillars"]]
        want_pillars = [(p["pillar_code"], p["score"]) for p in want["pillars"]]
        if got_pillars != want_pillars:
            differences.append(f"{want['unit_code']} pillars differ")
    return {
        "equal": not differences,
        "units": len(expected),
        "scored": sum(1 for u in expected if u["status"] == "scored"),
        "differences": differences[:20],
    }


# --- the run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rush", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--period", type=int, default=2023)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--sweep-cron", default="*/5 * * * *",
        help="the cron sweep of dti_ingest during the rush (production: every 15 min)",
    )  # fmt: skip
    parser.add_argument(
        "--drain-minutes",
        type=float,
        default=20.0,
        help="how long to wait after the last arrival for the site to catch up",
    )
    parser.add_argument("--no-restarts", action="store_true", help="no triggerer restart, no kill")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a temp)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from testkit import portal_server
    from testkit.airflow_stack import running_stack

    load_before = os.getloadavg()
    t0 = time.monotonic()
    pool = AnswerPool.from_sample(args.period, SAMPLE_SEEDS)
    plan = arrival_plan(pool, args.submissions, args.minutes, args.seed)
    # scored while the stack starts: the drain and the latencies need it, the rush does not
    scoring = ThreadPoolExecutor(1).submit(expected_states, plan, args.period, SEEDS_DIR)
    kinds: dict[str, int] = {}
    for s in plan:
        kinds[f"{s.kind}:{s.door}"] = kinds.get(f"{s.kind}:{s.door}", 0) + 1
    log.info("plan of %d submissions over %.1f min ready in %.0f s: %s", len(plan), args.minutes,
             time.monotonic() - t0, kinds)  # fmt: skip

    from publish.site_server import SiteServer

    base = args.work or Path(tempfile.mkdtemp(prefix="dti_rush_"))
    portal = portal_server.Portal(token=PORTAL_TOKEN)
    portal_http, _ = portal_server.start(portal)
    site = SiteServer(base / "site", SITE_TOKEN).__enter__()
    env = {
        "DTI_PUBLISH_URL": site.url,
        "DTI_PUBLISH_TOKEN": SITE_TOKEN,
        "DTI_PORTAL_API_URL": portal.url,
        "DTI_PORTAL_API_TOKEN": PORTAL_TOKEN,
    }
    arrivals: dict[int, float] = {}
    restarts: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    try:
        t_stack = time.monotonic()
        with running_stack(base / "stack", _free_port(), sweep_cron=args.sweep_cron,
                           env=env, healthy_timeout=900) as e2e:  # fmt: skip
            stack_ready_s = time.monotonic() - t_stack
            log.info("stack ready in %.0f s; the rush starts", stack_ready_s)
            poller = SitePoller(f"{site.base}/{args.period}/results.json")
            sampler = ResourceSampler(e2e.stack)
            poller.start()
            sampler.start()
            doors = Doors(e2e, portal, e2e.cfg.dti_env["DTI_REDIS_CHANNEL"])
            by_seq = {s.seq: s for s in plan}
            chaos = [] if args.no_restarts else [
                (0.4 * args.minutes * 60, "restart triggerer"),
                (0.6 * args.minutes * 60, "SIGKILL scheduler, start it again"),
            ]  # fmt: skip
            start = time.monotonic()
            for s in plan:
                while chaos and chaos[0][0] <= s.at:
                    when, what = chaos.pop(0)
                    time.sleep(max(0.0, start + when - time.monotonic()))
                    restarts.append({"at_s": round(time.monotonic() - start, 1), "what": what,
                                     "took_s": _disrupt(e2e.stack, what)})  # fmt: skip
                    log.info("%s at %.0f s", what, time.monotonic() - start)
                time.sleep(max(0.0, start + s.at - time.monotonic()))
                if dead := e2e.stack.dead():
                    raise RuntimeError(f"airflow {', '.join(dead)} died during the rush")
                arrivals[s.seq] = doors.send(s, by_seq[s.of] if s.of is not None else None)
            sent_s = time.monotonic() - start
            log.info("%d submissions sent in %.0f s; waiting for the site", len(plan), sent_s)
            expected = scoring.result()
            observable = {e.seq for events in expected.values() for e in events if e.observable}
            final = {u: events[-1].state for u, events in expected.items()}
            deadline = time.monotonic() + args.drain_minutes * 60
            while time.monotonic() < deadline:
                shown = poller.observations[-1][1] if poller.observations else {}
                if all(shown.get(u) == state for u, state in final.items()):
                    break
                if dead := e2e.stack.dead():
                    raise RuntimeError(f"airflow {', '.join(dead)} died while draining")
                time.sleep(1)
            drained_s = time.monotonic() - start
            # what was measured, kept before anything is computed from it
            (base / "arrivals_and_site.json").write_text(
                json.dumps({"arrivals": arrivals, "observations": poller.observations}),
                encoding="utf-8",
            )
            e2e.wait_idle(timeout=600)
            poller.stopping.set()
            poller.join()
            poller.poll_once()
            sampler.stopping.set()
            sampler.join()
            doors.close()
            resources = sampler.figures()
            airflow = airflow_figures(e2e)
            store, batch_of = warehouse_figures(e2e.warehouse, plan)
            published = publish_times(expected, arrivals, poller.observations)
            unseen = observable - set(published)
            superseded = superseded_before_shown(expected, arrivals, poller.observations, unseen)
            latency = latency_figures(arrivals, published, observable, superseded)
            breakdown = time_breakdown(e2e, plan, arrivals, published, batch_of)
            out_json = (e2e.out / str(args.period) / "results.json").read_bytes()
            failures = e2e.failure_notes()
        reference = reference_check(poller.last, plan, args.period)
        reference["site_equals_out"] = poller.last == out_json
        result = {
            "submissions": len(plan),
            "minutes": args.minutes,
            "period": args.period,
            "plan": kinds,
            "restarts": restarts,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "stack_ready_s": round(stack_ready_s, 1),
            "sent_s": round(sent_s, 1),
            "drained_s": round(drained_s, 1),
            "site_versions_seen": len(poller.observations),
            "latency": latency,
            "where_the_time_goes": breakdown,
            "airflow": airflow,
            "resources": resources,
            "warehouse": store,
            "reference": reference,
            "failure_notes": len(failures),
            "targets_met": {
                "p50 ≤ 15 s": latency["p50_s"] is not None and latency["p50_s"] <= 15,
                "p95 ≤ 60 s": latency["p95_s"] is not None and latency["p95_s"] <= 60,
                "nothing lost, nothing twice": bool(
                    reference["equal"]
                    and store["nothing_lost_nothing_twice"]
                    and not latency["never_seen"]
                ),
            },
        }
    finally:
        site.__exit__(None, None, None)
        portal_http.shutdown()
        portal_http.server_close()
    key = "deadline_rush" if (args.submissions, args.minutes) == (1000, 10.0) else (
        f"deadline_rush_{args.submissions}_over_{args.minutes:g}_min"
    )  # fmt: skip
    merge_results(args.results, {key: result})
    print("\n" + render_table(result))
    print(f"\nwrote {key} into {args.results}")
    return 0 if result["targets_met"]["nothing lost, nothing twice"] else 1


def _disrupt(stack: Any, what: str) -> float:
    started = time.monotonic()
    if what.startswith("restart triggerer"):
        stack.stop("triggerer")
        stack.start("triggerer")
    else:
        proc = stack.processes["scheduler"]
        try:  # the scheduler and what runs under it, as a crash would take them
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        stack.processes.pop("scheduler")
        stack.start("scheduler")
    return round(time.monotonic() - started, 1)


def render_table(result: dict[str, Any]) -> str:
    lat, air, res = result["latency"], result["airflow"], result["resources"]
    ref, store = result["reference"], result["warehouse"]

    def s(value: Any) -> str:
        return "—" if value is None else f"{value:.1f}"

    runs = {dag: sum(v.values()) for dag, v in air["dag_runs"].items()}
    restarts = ", ".join(f"{r['what']} at {r['at_s']:.0f} s" for r in result["restarts"])
    lines = [
        f"Deadline rush: {result['submissions']} submissions over {result['minutes']:g} min "
        f"({', '.join(f'{k} {v}' for k, v in sorted(result['plan'].items()))}); "
        f"restarts: {restarts or 'none'}; "
        f"load before {result['load_before']}, after {result['load_after']} on "
        f"{result['machine']['cpus']} cores.",
        "",
        "| arrival → published on the site | p50 (s) | p95 (s) | max (s) | seen / observable |",
        "|---|---:|---:|---:|---:|",
        f"| all doors | {s(lat['p50_s'])} | {s(lat['p95_s'])} | {s(lat['max_s'])} | "
        f"{lat['seen']} / {lat['observable']} |",
        "",
        f"Never seen: {lat['never_seen'] or 'none'}; replaced by a later submission of their "
        f"unit before the site's next version (not observable, left out): "
        f"{lat.get('superseded_before_shown') or 'none'}.",
        "",
        "| DAG | runs | events consumed | events per run |",
        "|---|---:|---:|---:|",
    ]
    for dag, total in sorted(runs.items()):
        c = air["coalesced"].get(dag, {})
        lines.append(f"| {dag} | {total} | {c.get('events_consumed', 0)} | "
                     f"{c.get('events_per_run', '—')} |")  # fmt: skip
    never = air.get("events_never_consumed") or {}
    lines.append("")
    lines.append(f"Events no run consumed: {never or 'none'}; watcher events: inbox "
                 f"{air['asset_events'].get('dti_inbox_ready_flags', 0)}, Redis "
                 f"{air['asset_events'].get('dti_portal_announcements', 0)}.")  # fmt: skip
    segments = result["where_the_time_goes"]["segments"]
    lines += [
        "",
        f"| where the time goes ({result['where_the_time_goes']['submissions_traced']} "
        "submissions traced) | p50 (s) | p95 (s) |",
        "|---|---:|---:|",
        *[f"| {name} | {v['p50_s']:.1f} | {v['p95_s']:.1f} |" for name, v in segments.items()],
        "",
        f"Stack CPU {res['cpu_seconds']:.0f} s ({res['cpu_cores_busy_mean']} cores busy on "
        f"average), memory peak {res['rss_mib_peak']} MiB (largest process "
        f"{res['largest_process_mib']} MiB: {res['largest_process']}).",
        f"Rows sent {store['rows_sent']}, loaded {store['rows_loaded']}; answer versions loaded "
        f"twice: {store['answer_versions_loaded_twice']}; ledger {store['ledger_outcomes']}.",
        f"Final bundle = reference scorer on everything sent: {'yes' if ref['equal'] else 'NO'} "
        f"({ref['units']} units, {ref['scored']} scored); site = OUT: "
        f"{'yes' if ref['site_equals_out'] else 'NO'}. {'; '.join(ref['differences'][:5])}",
        "",
        "| target | met |",
        "|---|---|",
        *[f"| {name} | {'yes' if ok else 'no'} |" for name, ok in result["targets_met"].items()],
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
