"""The statistical audit of a release (docs/spec/results.md §8.6): the marts' figures against
an independent numpy computation on a block of the sample, the flags, and the page and JSON
the release carries. (The figures on five hand-computed units are the dbt unit tests
``indicator_audit_on_five_units`` and ``pillar_audit_on_five_units``.)"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from fractions import Fraction

import duckdb
import numpy as np
import pytest

from dti.settings import Settings
from expectations.gate import data_docs_index
from publish import statistical_audit
from publish.statistical_audit import IndicatorFigures, PillarFigures, StatisticalAudit, Thresholds

PERIOD = 2023
BLOCK = "so_nganh"
TOLERANCE = 0.0001  # the marts round to 4 decimals
THRESHOLDS = Thresholds(Decimal("0.2"), Decimal(90), Decimal("0.7"))


def _rows(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql, [PERIOD, BLOCK]).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def block(sample_release: Settings) -> dict:
    """The block's scored units and their points per indicator, straight from the marts the
    audit reads, and the audit's own figures."""
    units = _rows(
        sample_release,
        "select unit_code, rank_group, rank, total_score, applicable_max "
        "from marts.fct_unit_scores where period = ? and block = ? and status = 'scored' "
        "order by unit_code",
    )
    points = _rows(
        sample_release,
        "select p.unit_code, p.pillar_code, p.indicator_code, p.max_points, p.final_points "
        "from marts.fct_indicator_points p join marts.fct_unit_scores s "
        "on s.period = p.period and s.unit_code = p.unit_code and s.status = 'scored' "
        "where p.period = ? and p.block = ?",
    )
    audit = _rows(
        sample_release,
        "select indicator_code, units, pct_at_zero, pct_at_max, mean_points, sd_points, "
        "corr_pillar, corr_total, effective_weight, ranks_moved, max_rank_shift "
        "from marts.fct_indicator_audit where period = ? and block = ?",
    )
    alphas = _rows(
        sample_release,
        "select pillar_code, units, cronbach_alpha from marts.fct_pillar_audit "
        "where period = ? and block = ?",
    )
    return {"units": units, "points": points, "audit": audit, "alphas": alphas}


def _close(got: object, want: float | None, what: str, tolerance: float = TOLERANCE) -> None:
    if want is None or np.isnan(want):
        assert got is None, what
    else:
        assert got is not None and abs(float(got) - want) <= tolerance + 1e-9, (what, got, want)


def _competition_ranks(keys: dict[str, Fraction | None]) -> dict[str, int]:
    ordered = sorted((k for k in keys.values() if k is not None), reverse=True)
    return {
        unit: (ordered.index(key) + 1 if key is not None else len(ordered) + 1)
        for unit, key in keys.items()
    }


def test_the_figures_of_a_sample_block_match_an_independent_numpy_computation(block) -> None:
    units = {
        u: (group, rank, float(t), Decimal(m), Decimal(t))
        for u, group, rank, t, m in block["units"]
    }
    codes = sorted(units)
    points: dict[str, dict[str, tuple[str, Decimal, Decimal]]] = {}
    for unit, pillar, indicator, max_points, final in block["points"]:
        points.setdefault(indicator, {})[unit] = (pillar, max_points, final)
    pillar_of = {i: next(iter(v.values()))[0] for i, v in points.items()}
    pillar_score = {
        (u, p): sum(float(v[u][2]) for i, v in points.items() if pillar_of[i] == p and u in v)
        for u in codes
        for p in set(pillar_of.values())
    }
    totals_all = np.array([units[u][2] for u in codes])
    figures = {row[0]: row[1:] for row in block["audit"]}
    assert set(figures) == set(points)
    for indicator, by_unit in points.items():
        applied = sorted(by_unit)
        x = np.array([float(by_unit[u][2]) for u in applied])
        maximum = float(next(iter(by_unit.values()))[1])
        pillar = np.array([pillar_score[(u, pillar_of[indicator])] for u in applied])
        total = np.array([units[u][2] for u in applied])
        n, at_zero, at_max, mean, sd, corr_p, corr_t, weight, moved, shift = figures[indicator]
        assert n == len(applied)
        # shares are percents with 2 decimals
        _close(at_zero, 100 * float(np.mean(x == 0)), f"{indicator} at zero", 0.005)
        _close(at_max, 100 * float(np.mean(x == maximum)), f"{indicator} at max", 0.005)
        _close(mean, float(np.mean(x)), f"{indicator} mean")
        _close(sd, float(np.std(x)), f"{indicator} sd")
        spread = x.std() > 0
        _close(
            corr_p,
            float(np.corrcoef(x, pillar)[0, 1]) if spread and pillar.std() > 0 else None,
            f"{indicator} corr pillar",
        )
        _close(
            corr_t,
            float(np.corrcoef(x, total)[0, 1]) if spread and total.std() > 0 else None,
            f"{indicator} corr total",
        )
        everywhere = np.array([float(by_unit[u][2]) if u in by_unit else 0.0 for u in codes])
        _close(
            weight,
            float(np.cov(everywhere, totals_all, bias=True)[0, 1] / totals_all.var()),
            f"{indicator} weight",
        )
        # left out: each unit's exact ratio without it, competition ranks within its group
        keys = {}
        for u in codes:
            _, _, _, m, t = units[u]
            _, max_i, p_i = by_unit.get(u, ("", Decimal(0), Decimal(0)))
            keys[u] = Fraction(t - p_i) / Fraction(m - max_i) if m - max_i > 0 else None
        shifts = []
        for group in {units[u][0] for u in codes}:
            members = [u for u in codes if units[u][0] == group]
            again = _competition_ranks({u: keys[u] for u in members})
            shifts += [abs(again[u] - units[u][1]) for u in members]
        assert (moved, shift) == (sum(1 for s in shifts if s), max(shifts)), indicator
    # Cronbach's alpha over the units every indicator of the pillar applies to
    for pillar, n, alpha in block["alphas"]:
        indicators = sorted(i for i in points if pillar_of[i] == pillar)
        complete = [u for u in codes if all(u in points[i] for i in indicators)]
        matrix = np.array([[float(points[i][u][2]) for i in indicators] for u in complete])
        assert n == len(complete)
        k = len(indicators)
        summed = matrix.sum(axis=1)
        want = (
            k / (k - 1) * (1 - matrix.var(axis=0).sum() / summed.var())
            if k > 1 and summed.var() > 0
            else None
        )
        _close(alpha, want, f"{pillar} alpha")


def _figures(
    code: str, sd: str, corr_pillar: str | None, corr_total: str | None
) -> IndicatorFigures:
    return IndicatorFigures(
        "b", "f", "P", code, f"Chỉ số {code}", Decimal(5), Decimal("0.1"), 5, Decimal(0),
        Decimal(100) if sd == "0" else Decimal(20), Decimal(5), Decimal(sd),
        None if corr_pillar is None else Decimal(corr_pillar),
        None if corr_total is None else Decimal(corr_total), Decimal("0.1"), 0, 0,
    )  # fmt: skip


def test_a_useless_indicator_and_contrary_or_weak_ones_are_flagged() -> None:
    useless = _figures("C", "0", None, None)  # the same answer for every unit
    assert statistical_audit.indicator_flags(useless, THRESHOLDS) == ["constant"]
    contrary = _figures("N", "2", "0.3", "-0.25")
    assert statistical_audit.indicator_flags(contrary, THRESHOLDS) == ["negative"]
    weak = _figures("W", "2", "0.5", "0.1291")
    assert statistical_audit.indicator_flags(weak, THRESHOLDS) == ["weak"]
    sound = _figures("S", "2", "0.9", "0.6")
    assert statistical_audit.indicator_flags(sound, THRESHOLDS) == []
    loose = Thresholds(Decimal("0.1"), Decimal(90), Decimal("0.7"))
    assert statistical_audit.indicator_flags(weak, loose) == []  # the threshold is a setting
    pillar = PillarFigures("b", "f", "P", 3, 5, Decimal("0.6429"))
    assert statistical_audit.pillar_flags(pillar, THRESHOLDS) == ["low_alpha"]
    audit = StatisticalAudit((useless, sound), (pillar,))
    document = statistical_audit.audit_document(2023, audit, THRESHOLDS, {("b", "P"): "Trụ P"})
    files = statistical_audit.render_files(document, {"b": "Khối <b>"}, {"b": "khoi-b"}, "final")
    page = files[statistical_audit.PAGE].decode("utf-8")
    assert '<tr data-indicator="C" class="flagged">' in page
    assert 'data-flag="constant">⚑ không phân hóa' in page
    assert "Khối &lt;b&gt;" in page, "the template escapes"
    assert "0,6429" in page
    figures = json.loads(files[statistical_audit.FIGURES])
    assert figures["blocks"][0]["indicators"][0]["flags"] == ["constant"]
    assert figures["blocks"][0]["pillars"][0]["cronbach_alpha"] == 0.6429


def test_the_release_carries_the_page_and_its_figures_linked_from_the_index(
    sample_release: Settings, block
) -> None:
    bundle = sample_release.out / str(PERIOD)
    figures = json.loads((bundle / statistical_audit.FIGURES).read_text(encoding="utf-8"))
    assert [b["block"] for b in figures["blocks"]] == ["quan_huyen", BLOCK]
    published = {i["indicator_code"]: i for i in figures["blocks"][1]["indicators"]}
    for code, n, *_, moved, _shift in block["audit"]:
        assert published[code]["units"] == n and published[code]["ranks_moved"] == moved
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["path"] for f in manifest["files"]}
    assert {statistical_audit.PAGE, statistical_audit.FIGURES} <= listed
    index = (bundle / "index.html").read_text(encoding="utf-8")
    assert f'href="{statistical_audit.PAGE}#khoi-{BLOCK}"' in index
    page = (bundle / statistical_audit.PAGE).read_text(encoding="utf-8")
    assert 'id="khoi-so_nganh"' in page and 'href="../phuong-phap.html"' in page
    # and the Data Docs index, beside the validation runs of the release
    docs = data_docs_index(sample_release)
    links = re.findall(r'class="dti-statistics" href="([^"]+)">2023, release 1<', docs.read_text())
    assert [(docs.parent / href).resolve() for href in links] == [
        (bundle / statistical_audit.PAGE).resolve()
    ]
