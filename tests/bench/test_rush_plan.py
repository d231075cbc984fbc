"""The deadline rush's own logic, without Airflow: the arrival plan, what each submission
should show on the site, when it showed, and the merge into bench/results.json.

Nothing here is about speed: times are made up and only their order matters.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from bench.results import merge_results
from bench.rush_plan import (
    NOT_SUBMITTED,
    AnswerPool,
    Expected,
    arrival_plan,
    arrival_times,
    expected_states,
    latency_figures,
    percentile,
    publish_times,
    sent_rows,
    site_states,
    split_latency,
    superseded_before_shown,
)
from dti.settings import SEEDS_DIR
from testkit.airflow_stack import unit_answers, units_of
from testkit.reference_scoring import read_inbox

PERIOD = 2023
UNITS = units_of("so_nganh")[:3]


@pytest.fixture
def pool() -> AnswerPool:
    """Three departments answering six yes/no indicators 'có'; each may turn to 'không'; the
    council appraises the first unit's first indicator 'không'."""
    first = {
        u: {a["indicator_code"]: (a["value"], a["evidence_ref"]) for a in unit_answers(u)}
        for u in UNITS
    }
    values = {u: {i: ["có", "không"] for i in answers} for u, answers in first.items()}
    council_indicator = sorted(first[UNITS[0]])[0]
    council = {UNITS[0]: {council_indicator: ("không", "Biên bản 01")}}
    return AnswerPool(PERIOD, first, values, council)


def test_arrivals_speed_up_towards_the_deadline() -> None:
    times = arrival_times(100, 3)
    assert times == sorted(times) and len(set(times)) == 100
    assert 0 < times[0] and times[-1] < 180
    first_minute = sum(1 for t in times if t < 60)
    last_minute = sum(1 for t in times if t >= 120)
    assert last_minute > 2 * first_minute


def test_plan_sends_each_unit_first_then_revisions_redeliveries_and_one_council_correction(
    pool: AnswerPool,
) -> None:
    plan = arrival_plan(pool, 60, 2, seed=7)

    assert [s.seq for s in plan] == list(range(60))
    assert [s.kind for s in plan[:3]] == ["first"] * 3
    assert sorted(u for s in plan[:3] for u in s.units) == sorted(UNITS)
    kinds = [s.kind for s in plan]
    assert kinds.count("appraisal") == 1
    assert {"revision", "redelivery"} <= set(kinds)
    council = next(s for s in plan if s.kind == "appraisal")
    assert council.door == "inbox" and {r["stage"] for r in council.rows} == {"appraisal"}
    assert all(r["appraiser"] for r in council.rows)
    # each answer is saved after the one before, all before the period's deadline
    saved = [datetime.fromisoformat(s.rows[0]["submitted_at"]) for s in plan
             if s.kind != "redelivery"]  # fmt: skip
    assert saved == sorted(saved) and len(set(saved)) == len(saved)
    assert saved[-1] < datetime.fromisoformat("2024-01-31T23:59:59+07:00")
    by_seq = {s.seq: s for s in plan}
    for s in plan:
        if s.kind == "redelivery":
            original = by_seq[s.of]
            assert original.seq < s.seq and original.kind != "redelivery"
            assert (s.door, s.rows, s.units) == (original.door, original.rows, original.units)
    # a revision changes what the unit had answered
    answered = {u: {i: v for i, (v, _) in pool.first[u].items()} for u in UNITS}
    for s in plan:
        if s.kind == "revision":
            for row in s.rows:
                assert row["value"] != answered[row["unit_code"]][row["indicator_code"]]
                answered[row["unit_code"]][row["indicator_code"]] = row["value"]
    assert plan == arrival_plan(pool, 60, 2, seed=7), "the same seed gives the same plan"


def test_a_file_submission_is_keyed_as_the_pipeline_keys_files(pool: AnswerPool, tmp_path) -> None:
    plan = arrival_plan(pool, 60, 2, seed=7)
    submission = next(s for s in plan if s.door == "inbox" and s.kind == "revision")
    path = tmp_path / submission.file_name
    path.write_bytes(submission.file_bytes())
    (tmp_path / (path.name + ".ready")).write_bytes(b"")

    read = read_inbox(tmp_path)

    keyed = submission.keyed_rows()
    assert [r["submission_id"] for r in keyed] == [r["submission_id"] for r in read]
    assert [r["value"] for r in keyed] == [r["value"] for r in read]
    portal = next(s for s in plan if s.door != "inbox" and s.kind != "redelivery")
    assert [r["submission_id"] for r in portal.keyed_rows()] == [
        f"rush-{portal.seq:05d}-{n:02d}" for n in range(len(portal.rows))
    ]


def test_expected_states_follow_each_unit_and_a_redelivery_shows_nothing_new(
    pool: AnswerPool,
) -> None:
    plan = arrival_plan(pool, 40, 2, seed=3)
    expected = expected_states(plan, PERIOD, SEEDS_DIR)

    assert set(expected) == set(UNITS)
    for unit, events in expected.items():
        assert [e.seq for e in events] == sorted(e.seq for e in events)
        assert events[0].observable and events[0].state[0] == "scored"
        assert all(e.unit == unit for e in events)
    redeliveries = {s.seq for s in plan if s.kind == "redelivery"}
    assert redeliveries
    assert not [e for es in expected.values() for e in es if e.seq in redeliveries and e.observable]
    assert len(sent_rows(plan)) == sum(len(s.rows) for s in plan if s.kind != "redelivery")


def _results(*units: tuple[str, str, str, str]) -> bytes:
    return json.dumps(
        {
            "units": [
                {
                    "unit_code": u,
                    "status": st,
                    "total_score": float(total),
                    "self_score": float(own),
                }
                for u, st, total, own in units
            ]
        }  # fmt: skip
    ).encode()


def test_site_states_read_scores_as_shown() -> None:
    states = site_states(_results(("A", "scored", "12.5", "10"), ("B", "not_submitted", "0", "0")))
    assert states == {"A": ("scored", "12.50", "10.00"), "B": NOT_SUBMITTED}


S1, S2, S3 = ("scored", "1.00", "1.00"), ("scored", "2.00", "2.00"), ("scored", "3.00", "3.00")


def test_publish_times_take_the_first_version_showing_each_submission() -> None:
    expected = {
        "A": [Expected(0, "A", S1, True), Expected(2, "A", S2, True), Expected(4, "A", S2, False)],
        "B": [Expected(1, "B", S3, True)],
    }
    arrivals = {0: 1.0, 1: 2.0, 2: 3.0, 4: 4.0}
    observations = [
        (0.5, {"A": NOT_SUBMITTED, "B": NOT_SUBMITTED}),
        (5.0, {"A": S1, "B": NOT_SUBMITTED}),
        (9.0, {"A": S2, "B": S3}),
    ]
    assert publish_times(expected, arrivals, observations) == {0: 5.0, 1: 9.0, 2: 9.0}


def test_a_later_revision_shown_first_publishes_the_earlier_one_with_it() -> None:
    expected = {"A": [Expected(0, "A", S1, True), Expected(1, "A", S2, True)]}
    assert publish_times(expected, {0: 1.0, 1: 2.0}, [(7.0, {"A": S2})]) == {0: 7.0, 1: 7.0}


def test_a_state_shown_before_the_submission_arrived_does_not_count() -> None:
    expected = {"A": [Expected(0, "A", S1, True), Expected(1, "A", S2, True)]}
    # S2 on the site at 1.5 s cannot be submission 1's effect: it arrived at 2 s
    observations = [(1.5, {"A": S2}), (3.0, {"A": S1})]
    assert publish_times(expected, {0: 1.0, 1: 2.0}, observations) == {0: 3.0}


def test_the_council_correction_is_published_when_its_last_unit_shows_it() -> None:
    expected = {"A": [Expected(5, "A", S1, True)], "B": [Expected(5, "B", S3, True)]}
    observations = [(3.0, {"A": S1, "B": NOT_SUBMITTED}), (8.0, {"A": S1, "B": S3})]
    assert publish_times(expected, {5: 1.0}, observations) == {5: 8.0}


def test_latency_figures_count_what_was_never_seen() -> None:
    arrivals = {n: float(n) for n in range(5)}
    published = {0: 10.0, 1: 3.0, 2: 22.0, 3: 5.0}  # latencies 10, 2, 20, 2
    figures = latency_figures(arrivals, published, observable=[0, 1, 2, 3, 4])
    assert figures["p50_s"] == 2.0 and figures["p95_s"] == 20.0 and figures["max_s"] == 20.0
    assert figures["seen"] == 4 and figures["observable"] == 5 and figures["never_seen"] == [4]
    assert percentile([], 0.5) is None


def test_a_submission_replaced_before_the_next_site_version_is_not_counted_unseen() -> None:
    # 1 brings S2, 2 brings the unit back to S1 before the site's next version: S2 is never
    # shown, and 2 (S1 again) is not observable, so nothing marks 1 as shown
    expected = {
        "A": [Expected(0, "A", S1, True), Expected(1, "A", S2, True), Expected(2, "A", S1, False)]
    }
    arrivals = {0: 1.0, 1: 2.0, 2: 3.0}
    observations = [(1.5, {"A": S1}), (4.0, {"A": S1})]
    published = publish_times(expected, arrivals, observations)
    assert 1 not in published
    superseded = superseded_before_shown(expected, arrivals, observations, [1])
    assert superseded == [1]
    figures = latency_figures(arrivals, published, [0, 1], superseded)
    assert figures["never_seen"] == [] and figures["superseded_before_shown"] == [1]
    # a version came between its arrival and the revision: it could have been shown
    late = {0: 1.0, 1: 2.0, 2: 5.0}
    assert superseded_before_shown(expected, late, observations, [1]) == []


def test_merge_keeps_what_make_bench_wrote(tmp_path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"figures": {"ingest": 1}, "deadline_rush": {"old": True}}))
    merged = merge_results(results, {"deadline_rush": {"latency": 1}})
    assert merged == {"figures": {"ingest": 1}, "deadline_rush": {"latency": 1}}
    assert json.loads(results.read_text()) == merged
    merge_results(results, {"figures": {"ingest": 2}})
    assert json.loads(results.read_text())["deadline_rush"] == {"latency": 1}
    results.write_text("[]")
    with pytest.raises(ValueError, match="JSON object"):
        merge_results(results, {"x": 1})


def test_merge_creates_the_file(tmp_path) -> None:
    assert merge_results(tmp_path / "r.json", {"a": 1}) == {"a": 1}


def test_latency_splits_into_spans_that_add_up() -> None:
    # ingest task 12–20, transform done 50, publish done 70, seen 75
    assert split_latency(10.0, 75.0, (12.0, 20.0, 50.0, 70.0)) == [2.0, 8.0, 30.0, 20.0, 5.0]
    # an ingest run that started before the arrival, a bundle seen before its publish ended
    spans = split_latency(10.0, 60.0, (5.0, 20.0, 50.0, 70.0))
    assert spans == [0.0, 10.0, 30.0, 10.0, 0.0] and sum(spans) == 50.0
