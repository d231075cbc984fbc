"""End to end on a real Airflow: files of two periods dropped together are both published,
scored by a registry kept outside the repository (``DTI_REGISTRY_DIR``) whose 2025 framework
is another version than 2023's.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from reference_scoring import read_inbox, score_period

from dti.settings import SEEDS_DIR
from pipeline.sample import write_sample
from tests.orchestration.harness import E2EStack, running_stack, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

PERIODS = (2023, 2025)
PUBLISH_TIMEOUT = 600  # two periods of the whole sample, from the drop to both bundles


def registry_with_2025(folder: Path) -> Path:
    """A copy of the bundled registry with a 2025 framework version (``tp-2025``: the 2023
    structure, thresholds 55 % and 75 %), the units active in 2025 and a 2025 period — the
    rows the README's walk-through appends."""
    shutil.copytree(SEEDS_DIR, folder)

    def append(name: str, lines: list[str]) -> None:
        path = folder / name
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        path.write_text(text + "".join(f"{line}\n" for line in lines), encoding="utf-8")

    def lines_of(name: str) -> list[str]:
        return (folder / name).read_text(encoding="utf-8").replace("\r\n", "\n").splitlines()

    append(
        "frameworks.csv",
        [
            'tp-2025,so_nganh,2025,2025,330,55,75,"2025 framework"',
            'tp-2025,quan_huyen,2025,2025,500,55,75,"2025 framework"',
        ],
    )
    for name in ("pillars.csv", "indicators.csv"):
        copied = [re.sub(r"^hcm-2023,", "tp-2025,", ln) for ln in lines_of(name)]
        append(name, [ln for ln in copied if ln.startswith("tp-2025,")])
    units = folder / "units.csv"
    units.write_text(
        re.sub(r",2023,2024$", ",2023,2025", "\n".join(lines_of("units.csv")), flags=re.M) + "\n",
        encoding="utf-8",
    )
    append("periods.csv", ["2025,2026-01-31T23:59:59+07:00,true"])
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return registry_with_2025(tmp_path_factory.mktemp("own") / "registry")


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, registry: Path) -> Iterator[E2EStack]:
    base = tmp_path_factory.mktemp("airflow_years")
    with running_stack(base, _free_port(), env={"DTI_REGISTRY_DIR": str(registry)}) as stack:
        yield stack


def _essentials(units: list[dict]) -> list[tuple]:
    def d(value) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return [
        (u["unit_code"], u["status"], d(u["total_score"]), d(u["percent"]), u["level"], u["rank"])
        for u in units
    ]


def _published(out: Path, period: int) -> list[tuple] | None:
    try:
        results = json.loads((out / str(period) / "results.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return _essentials(results["units"])


def test_two_periods_dropped_together_are_both_published(e2e: E2EStack, registry: Path) -> None:
    staged = e2e.inbox.parent / "staged"
    for period in PERIODS:
        write_sample(staged, period=period, seeds_dir=registry)
    rows = read_inbox(staged)
    expected = {p: _essentials(score_period(rows, p, registry)) for p in PERIODS}
    # dropped together: every file first, then every flag
    for path in sorted(staged.iterdir()):
        if path.suffix != ".ready":
            shutil.copyfile(path, e2e.inbox / path.name)
    for path in sorted(staged.glob("*.ready")):
        shutil.copyfile(path, e2e.inbox / path.name)

    for period in PERIODS:
        wait_for(
            f"{period} published as the reference scorer scores it",
            lambda p=period: _published(e2e.out, p) == expected[p],
            PUBLISH_TIMEOUT,
            e2e.stack,
        )
    for period in PERIODS:
        manifest = json.loads((e2e.out / str(period) / "manifest.json").read_text())
        assert manifest["framework_version"] == ("tp-2025" if period == 2025 else "hcm-2023")
        assert manifest["registry"]["folder"] == str(registry)
        assert {f["file"]: f["sha256"] for f in manifest["registry"]["files"]} == {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in registry.glob("*.csv")
        }
    # the transform ran at least once with both periods in one event, or once per period
    transforms = e2e.dag_runs("dti_transform")
    assert transforms and all(r["state"] in ("success", "running", "queued") for r in transforms)
