"""The suites in the repository are the suites in code, and each says how bad its failure is."""

from __future__ import annotations

import json
import re

import great_expectations as gx
import pytest

from dti.vocabulary import CHECKPOINTS
from expectations.suites import (
    CHECKPOINT_DEFINITIONS,
    REPO_GX_ROOT,
    build_suite,
    suite_document,
)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_repository_suite_is_generated_from_code(checkpoint: str) -> None:
    path = (
        REPO_GX_ROOT
        / "gx"
        / "expectations"
        / f"{CHECKPOINT_DEFINITIONS[checkpoint].suite_name}.json"
    )
    committed = json.loads(path.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(suite_document(checkpoint))), (
        f"{path} is stale: run `python -m expectations.suites` and commit the result"
    )


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_every_expectation_is_marked_critical_or_warning(checkpoint: str) -> None:
    suite = build_suite(checkpoint)
    assert suite.expectations, f"suite {checkpoint} is empty"
    checks = []
    for expectation in suite.expectations:
        assert expectation.meta["severity"] in ("critical", "warning")
        assert expectation.severity.value == expectation.meta["severity"]
        assert expectation.description
        checks.append(expectation.meta["check"])
    assert len(checks) == len(set(checks)), "check names must be unique within a suite"
    assert any(e.meta["severity"] == "critical" for e in suite.expectations)


def test_repository_context_loads_the_four_suites() -> None:
    context = gx.get_context(mode="file", project_root_dir=REPO_GX_ROOT)
    names = sorted(suite.name for suite in context.suites.all())
    assert names == sorted(CHECKPOINTS)
    assert context.variables.analytics_enabled is False


def test_unknown_checkpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown checkpoint"):
        build_suite("intermediate")


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_the_fingerprint_covers_every_table_a_rule_reads(checkpoint: str) -> None:
    # the gate reuses a passing verdict when the fingerprint is unchanged: a rule reading a
    # table the fingerprint leaves out could change its verdict unseen
    fingerprinted = {table for table, _ in CHECKPOINT_DEFINITIONS[checkpoint].tables}
    batch = set(re.findall(_TABLE, CHECKPOINT_DEFINITIONS[checkpoint].batch_query))
    read = set(batch)
    for expectation in build_suite(checkpoint).expectations:
        read |= set(re.findall(_TABLE, getattr(expectation, "unexpected_rows_query", "") or ""))
    assert read and read <= fingerprinted, f"not fingerprinted: {sorted(read - fingerprinted)}"


_TABLE = r"\b(?:raw|registry|staging|intermediate|marts|meta|audit)\.\w+"
