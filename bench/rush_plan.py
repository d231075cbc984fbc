"""The deadline rush on paper: who sends what, when and through which door, what each
submission should do to its unit's score, and when the stand-in site showed it.

No Airflow here: ``bench.rush`` plays the plan against a real stack; ``tests/bench`` checks
this logic on small hand-made answers. The answers come from the sample generator
(``pipeline.sample``): each unit's first submission is its sample answers, each revision
changes a few of them to a value another sample seed drew.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

DOORS = ("inbox", "portal_db", "portal_api")
# a rush is mostly units sending files; the portal carries the rest (announced on Redis)
DOOR_WEIGHTS = (0.5, 0.25, 0.25)
REDELIVERY_SHARE = 0.06
# the council's correction lands when most units have sent (the end of the appraisal)
COUNCIL_AT = 0.7
COUNCIL_UNITS = 5
CSV_HEADER = ("period", "unit_code", "indicator_code", "value", "evidence_ref", "stage",
              "submitted_at", "appraiser", "reason")  # fmt: skip

# (status, total_score, self_score) of one unit, as results.json shows it
UnitState = tuple[str, str, str]
NOT_SUBMITTED: UnitState = ("not_submitted", "0.00", "0.00")


@dataclass
class AnswerPool:
    """What the units may answer: per unit its first answers, and the values each indicator
    may be revised to; the council's answers for the units it appraises."""

    period: int
    first: dict[str, dict[str, tuple[str, str]]]  # unit -> indicator -> (value, evidence_ref)
    values: dict[str, dict[str, list[str]]]  # unit -> indicator -> values seen, first first
    council: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def from_sample(cls, period: int, seeds: Sequence[int]) -> AnswerPool:
        from pipeline.sample import write_sample
        from testkit.reference_scoring import parse_instant, read_inbox

        first: dict[str, dict[str, tuple[str, str]]] = {}
        values: dict[str, dict[str, list[str]]] = {}
        council: dict[str, dict[str, tuple[str, str]]] = {}
        for n, seed in enumerate(seeds):
            with tempfile.TemporaryDirectory(prefix="dti_rush_sample_") as folder:
                write_sample(Path(folder), period, seed)
                rows = read_inbox(Path(folder))
            rows.sort(key=lambda r: (parse_instant(r["submitted_at"]), r["submission_id"]))
            latest: dict[tuple[str, str, str], dict[str, Any]] = {}
            for row in rows:  # the answer that counts: latest wins, as the contract says
                latest[(row["stage"], row["unit_code"], row["indicator_code"])] = row
            for (stage, unit, indicator), row in sorted(latest.items()):
                answer = (row["value"] or "", row["evidence_ref"] or "")
                if stage == "appraisal":
                    if n == 0:
                        council.setdefault(unit, {})[indicator] = answer
                    continue
                if n == 0:
                    first.setdefault(unit, {})[indicator] = answer
                seen = values.setdefault(unit, {}).setdefault(indicator, [])
                if answer[0] not in seen:
                    seen.append(answer[0])
        return cls(period, first, values, council)


@dataclass
class Submission:
    seq: int
    at: float  # seconds after the rush starts
    door: str  # inbox, portal_db (announced on Redis), portal_api (announced on Redis)
    kind: str  # first, revision, redelivery, appraisal
    units: tuple[str, ...]
    rows: list[dict[str, str]]  # the answers as sent (no submission_id)
    of: int | None = None  # the submission a re-delivery sends again

    @property
    def file_name(self) -> str:
        return f"rush_{self.seq:05d}_{self.units[0] if len(self.units) == 1 else 'council'}.csv"

    def file_bytes(self) -> bytes:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_HEADER, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: row.get(k, "") for k in CSV_HEADER})
        return buf.getvalue().encode("utf-8")

    def portal_id(self, n: int) -> str:
        return f"rush-{self.seq:05d}-{n:02d}"

    def keyed_rows(self) -> list[dict[str, Any]]:
        """The rows with the ``submission_id`` the pipeline gives them: ``<sha256>:<row>`` for
        a file, the portal's id otherwise."""
        if self.door == "inbox":
            digest = hashlib.sha256(self.file_bytes()).hexdigest()
            ids = [f"{digest}:{n}" for n in range(1, len(self.rows) + 1)]
        else:
            ids = [self.portal_id(n) for n in range(len(self.rows))]
        return [{**row, "period": int(row["period"]), "submission_id": i}
                for row, i in zip(self.rows, ids, strict=True)]  # fmt: skip


def arrival_times(count: int, minutes: float) -> list[float]:
    """Seconds after the start: the rate grows steadily towards the deadline (the density is
    linear in time, so the last minute brings about twice the average)."""
    span = minutes * 60
    return [round(span * math.sqrt((i + 0.5) / count), 3) for i in range(count)]


def _deadline(period: int, seeds_dir: Path | None) -> datetime:
    from dti.settings import SEEDS_DIR

    with ((seeds_dir or SEEDS_DIR) / "periods.csv").open(encoding="utf-8", newline="") as f:
        row = next(r for r in csv.DictReader(f) if int(r["period"]) == period)
    return datetime.fromisoformat(row["deadline"])


def arrival_plan(
    pool: AnswerPool,
    submissions: int,
    minutes: float,
    seed: int = 2025,
    seeds_dir: Path | None = None,
) -> list[Submission]:
    """``submissions`` arrivals over ``minutes``: every unit's first answers, then revisions
    of a few answers, re-deliveries of earlier submissions (the same bytes, the same
    announcement) and one council correction; each answer saved one second after the last,
    all before the period's deadline, so the latest arrival is the latest answer."""
    rng = random.Random(f"dti-rush:{seed}")
    times = arrival_times(submissions, minutes)
    saved_from = _deadline(pool.period, seeds_dir) - timedelta(seconds=submissions + 60)
    units = sorted(pool.first)
    rng.shuffle(units)
    council_seq = min(submissions - 1, max(len(units), int(submissions * COUNCIL_AT)))
    current: dict[str, dict[str, str]] = {}
    plan: list[Submission] = []
    for seq, at in enumerate(times):
        saved_at = (saved_from + timedelta(seconds=seq)).isoformat()

        def row(unit: str, indicator: str, value: str, evidence: str, stage: str = "self",
                saved_at: str = saved_at, **extra: str) -> dict[str, str]:  # fmt: skip
            return {"period": str(pool.period), "unit_code": unit, "indicator_code": indicator,
                    "value": value, "evidence_ref": evidence, "stage": stage,
                    "submitted_at": saved_at, **extra}  # fmt: skip

        door = rng.choices(DOORS, DOOR_WEIGHTS)[0]
        if seq < len(units):
            unit = units[seq]
            answers = pool.first[unit]
            current[unit] = {i: v for i, (v, _) in answers.items()}
            rows = [row(unit, i, v, e) for i, (v, e) in sorted(answers.items())]
            plan.append(Submission(seq, at, door, "first", (unit,), rows))
        elif seq == council_seq and pool.council:
            appraised = [u for u in sorted(pool.council) if u in current][:COUNCIL_UNITS]
            rows = [
                row(
                    u,
                    i,
                    v,
                    e,
                    "appraisal",
                    appraiser="Hội đồng thẩm định",
                    reason="Điều chỉnh theo biên bản thẩm định",
                )  # fmt: skip
                for u in appraised
                for i, (v, e) in sorted(pool.council[u].items())
            ]
            plan.append(Submission(seq, at, "inbox", "appraisal", tuple(appraised), rows))
        elif rng.random() < REDELIVERY_SHARE and plan:
            original = rng.choice([s for s in plan if s.kind != "redelivery"])
            plan.append(Submission(seq, at, original.door, "redelivery", original.units,
                                   original.rows, of=original.seq))  # fmt: skip
        else:
            unit = rng.choice(sorted(current))
            changeable = sorted(
                i for i, vs in pool.values[unit].items() if set(vs) - {current[unit].get(i)}
            )
            chosen = rng.sample(changeable, min(len(changeable), rng.randint(1, 4)))
            rows = []
            for indicator in sorted(chosen):
                value = rng.choice(
                    [v for v in pool.values[unit][indicator] if v != current[unit].get(indicator)]
                )
                current[unit][indicator] = value
                rows.append(row(unit, indicator, value, f"Bổ sung {seq:05d}/{indicator}"))
            plan.append(Submission(seq, at, door, "revision", (unit,), rows))
    return plan


def _state(result: Mapping[str, Any]) -> UnitState:
    def cents(value: Any) -> str:
        return f"{Decimal(str(value)):.2f}"

    return (str(result["status"]), cents(result["total_score"]), cents(result["self_score"]))


def site_states(results_json: bytes) -> dict[str, UnitState]:
    """Each unit's state in a ``results.json`` as the site serves it."""
    document = json.loads(results_json, parse_float=Decimal)
    return {u["unit_code"]: _state(u) for u in document.get("units", [])}


@dataclass(frozen=True)
class Expected:
    """What the site should show for ``unit`` once submission ``seq`` is in; ``observable``
    is false when that state was already shown before it (a re-delivery, or a revision back
    to an earlier score), so its arrival cannot be told apart on the site."""

    seq: int
    unit: str
    state: UnitState
    observable: bool


def expected_states(
    plan: Sequence[Submission], period: int, seeds_dir: Path
) -> dict[str, list[Expected]]:
    """Per unit, in arrival order, the state after each submission touching it, scored by
    the reference scorer on everything the unit had sent by then."""
    from testkit.reference_scoring import load_registry, score_period

    registry = load_registry(seeds_dir)
    rows: dict[str, list[dict[str, Any]]] = {}
    out: dict[str, list[Expected]] = {}
    for submission in plan:
        for unit in submission.units:
            unit_rows = rows.setdefault(unit, [])
            if submission.kind != "redelivery":
                unit_rows.extend(r for r in submission.keyed_rows() if r["unit_code"] == unit)
            scored = next(
                u
                for u in score_period(unit_rows, period, seeds_dir, registry)
                if u["unit_code"] == unit
            )
            state = _state(scored)
            earlier = {e.state for e in out.get(unit, [])} | {NOT_SUBMITTED}
            out.setdefault(unit, []).append(
                Expected(submission.seq, unit, state, state not in earlier)
            )
    return out


def sent_rows(plan: Iterable[Submission]) -> list[dict[str, Any]]:
    """Every answer row sent, once (a re-delivery adds nothing new)."""
    return [r for s in plan if s.kind != "redelivery" for r in s.keyed_rows()]


def publish_times(
    expected: Mapping[str, Sequence[Expected]],
    arrivals: Mapping[int, float],
    observations: Iterable[tuple[float, Mapping[str, UnitState]]],
) -> dict[int, float]:
    """When each observable submission's effect first showed on the site.

    ``observations`` are (time, states) in time order. A unit showing the state expected after
    its submission k, at a time when k had arrived, has everything up to k published (later
    revisions of the same unit show it too: an earlier answer is in the latest state). A
    submission touching several units (the council's) is published when the last shows it.
    """
    shown: dict[tuple[str, int], float] = {}
    for when, states in observations:
        for unit, events in expected.items():
            state = states.get(unit)
            if state is None:
                continue
            hits = [
                n
                for n, e in enumerate(events)
                if e.observable and e.state == state and arrivals.get(e.seq, math.inf) <= when
            ]
            if not hits:
                continue
            for e in events[: max(hits) + 1]:
                shown.setdefault((unit, e.seq), when)
    units_of: dict[int, list[str]] = {}
    observable: set[int] = set()
    for unit, events in expected.items():
        for e in events:
            units_of.setdefault(e.seq, []).append(unit)
            if e.observable:
                observable.add(e.seq)
    return {
        seq: max(shown[(u, seq)] for u in units_of[seq])
        for seq in sorted(observable)
        if all((u, seq) in shown for u in units_of[seq])
    }


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def superseded_before_shown(
    expected: Mapping[str, Sequence[Expected]],
    arrivals: Mapping[int, float],
    observations: Sequence[tuple[float, Mapping[str, UnitState]]],
    unseen: Iterable[int],
) -> list[int]:
    """The unseen submissions that a later submission of the same unit replaced before the
    site's next version after their arrival: their state could never be shown. (A revision
    that brings a unit back to a state it had before is not observable, so it does not mark
    the ones before it as shown; the final check against the reference scorer is what
    proves they were not lost.)"""
    versions = sorted(when for when, _ in observations)
    superseded = []
    for seq in sorted(set(unseen)):
        arrived = arrivals.get(seq, math.inf)
        shown_next = next((when for when in versions if when >= arrived), math.inf)
        units = [(unit, events) for unit, events in expected.items()
                 if any(e.seq == seq for e in events)]  # fmt: skip
        if units and all(
            any(e.seq != seq and arrived < arrivals.get(e.seq, math.inf) <= shown_next
                for e in events[[e.seq for e in events].index(seq) + 1:])
            for _, events in units
        ):  # fmt: skip
            superseded.append(seq)
    return superseded


def latency_figures(
    arrivals: Mapping[int, float],
    published: Mapping[int, float],
    observable: Iterable[int],
    superseded: Iterable[int] = (),
) -> dict[str, Any]:
    """p50, p95 and max of arrival → published over the observable submissions; the ones
    never seen are counted, not hidden, apart from those ``superseded_before_shown``."""
    replaced = set(superseded)
    wanted = sorted(set(observable) - replaced)
    latencies = [published[s] - arrivals[s] for s in wanted if s in published]
    rounded = {k: (round(v, 1) if v is not None else None)
               for k, v in (("p50_s", percentile(latencies, 0.5)),
                            ("p95_s", percentile(latencies, 0.95)),
                            ("max_s", max(latencies, default=None)))}  # fmt: skip
    return {
        **rounded,
        "observable": len(wanted),
        "seen": len(latencies),
        "never_seen": [s for s in wanted if s not in published],
        "superseded_before_shown": sorted(replaced),
    }


def split_latency(arrived: float, seen: float, moments: Sequence[float]) -> list[float]:
    """Seconds from ``arrived`` to each of ``moments`` in turn, then to ``seen``: one span per
    moment plus the last. Each moment is held between the one before and ``seen``, so the
    spans add up to the latency even when a run's times overlap the submission's own (a run
    queued before it arrived, a bundle that showed it before its own publish run ended)."""
    points = [arrived]
    for moment in (*moments, seen):
        points.append(min(max(points[-1], moment), seen))
    return [end - start for start, end in zip(points, points[1:], strict=False)]
