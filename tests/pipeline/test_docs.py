"""The README and the guides: short enough to read, every command block accounted for.

The blocks themselves run in tests/pipeline/test_years.py (against a deployment of three
periods) and, those that need a running Airflow stack, in the end-to-end tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dti.settings import PROJECT_ROOT
from testkit.readme import GUIDES, STACK_BLOCKS, blocks, readme_command


def test_the_readme_fits_on_a_few_screens_and_links_every_guide() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    for guide in GUIDES[1:]:
        assert f"]({guide})" in readme, guide
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if "://" not in target:
            assert (PROJECT_ROOT / target).exists(), target
    assert "wards" in readme and "communes" in readme
    assert "source .venv/bin/activate" in readme and ".venv/bin/dti" in readme


def test_the_guides_link_to_what_exists() -> None:
    for guide in GUIDES[1:]:
        text = (PROJECT_ROOT / guide).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (PROJECT_ROOT / guide).parent.joinpath(target).exists(), (guide, target)


def test_every_command_block_runs_somewhere() -> None:
    found = blocks()
    assert len([b for b in found if b.marker == "here"]) >= 10
    for block in found:
        kind, _, name = block.marker.partition(":")
        assert block.marker in ("here", "make", "walkthrough:new-year") or kind in (
            "stack",
            "skip",
        ), block.where
        if kind == "stack":
            assert name in STACK_BLOCKS, block.where
        if kind == "skip":
            assert name.strip(), f"{block.where}: say why it is not run"
        if block.marker == "here":
            # a placeholder is not a command: synopses go in ```text blocks
            code = "\n".join(line.split(" # ")[0] for line in block.code.splitlines())
            assert not re.search(r"\[--|<[a-z ]+>|\.\.\.|…", code), block.where
    for name, runner in STACK_BLOCKS.items():
        if runner.startswith("tests/"):
            assert f'readme_command("{name}")' in (PROJECT_ROOT / runner).read_text(), name


def test_the_two_commands_are_what_ci_and_make_run() -> None:
    (block,) = [b for b in blocks(("README.md",)) if b.marker == "make"]
    commands = [line.split("#")[0].strip() for line in block.code.splitlines()]
    assert commands == ["make demo", "make test"]
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert [ln for ln in ci if ln and not ln.startswith(("#", "set ", "cd "))] == ["make test"]
    dry = subprocess.run(
        ["make", "-n", "demo"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0 and "dti run --period 2023 --period 2024 --period 2025" in dry.stdout


def test_the_backfill_command_is_the_same_in_the_readme_and_the_guide() -> None:
    command = readme_command("backfill")
    assert command == readme_command("backfill", "docs/operating.md")
    assert command.startswith('make airflow-cli ARGS="backfill create --dag-id dti_rerun ')
    makefile = Path(PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "airflow-cli: venv\n\tbash scripts/airflow_local.sh cli $(ARGS)" in makefile
