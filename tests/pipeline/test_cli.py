"""The `dti` command as a new user meets it: it says what it does, and refuses mistakes in a line."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.progress import StepProgress


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_has_help_and_appears_in_an_example() -> None:
    commands = _subcommands()
    assert set(cli.EXAMPLES) <= set(commands)
    for name, command in commands.items():
        examples = " ".join(cli.EXAMPLES.get(name, []))
        assert examples, f"dti {name} has no example"
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.option_strings:  # a group's sub-commands: their examples name them
                assert all(c in examples.split() for c in action.choices), name
                continue
            assert action.help and action.help.strip(), f"dti {name} {action.option_strings}"
            if action.dest == "verbose":  # every command has it; `dti run -v` shows it
                continue
            assert any(o in examples.split() for o in action.option_strings), (
                f"no example of dti {name} uses {action.option_strings}"
            )
        assert "examples:" in command.format_help()


@pytest.mark.parametrize("argv", [["-v", "ledger"], ["ledger", "-v"], ["ledger", "--verbose"]])
def test_verbose_is_accepted_before_and_after_the_command(argv: list[str]) -> None:
    args = cli.build_parser().parse_args([*argv, "--warehouse", "w.duckdb"])
    assert args.verbose is True


def test_verbose_is_off_unless_asked() -> None:
    assert cli.build_parser().parse_args(["ledger"]).verbose is False


@pytest.mark.parametrize(
    "argv",
    [
        ["ledger"],
        ["quarantine", "--json"],
        ["validate", "--checkpoint", "scores", "--period", "2023"],
        ["audit", "--period", "2023"],
        ["complaints", "--period", "2023"],
    ],
)
def test_a_command_that_reads_a_warehouse_refuses_a_missing_one(argv, tmp_path, capsys) -> None:
    nope = tmp_path / "nope.duckdb"
    assert cli.main([*argv, "--warehouse", str(nope)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"dti {argv[0]}: no warehouse at {nope}")
    assert not nope.exists(), "refusing must not create the warehouse"


def test_an_empty_quarantine_says_so(settings, capsys) -> None:
    from ingest import open_warehouse

    open_warehouse(settings).close()
    assert cli.main(["quarantine", "--warehouse", str(settings.warehouse)]) == 0
    assert capsys.readouterr().out == "no refused rows\n"
    assert cli.main(["ledger", "--warehouse", str(settings.warehouse)]) == 0
    assert capsys.readouterr().out == "no files or batches received yet\n"


def test_great_expectations_registration_noise_is_silenced_even_with_verbose() -> None:
    code = (
        "from pipeline import cli\n"
        "cli._configure_logging(True)\n"
        "import great_expectations\n"
        "import expectations.gate\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "great_expectations" not in proc.stderr


def test_progress_is_one_plain_line_per_step_off_a_terminal() -> None:
    stream = io.StringIO()
    progress = StepProgress(stream)
    progress("ingest", None)
    progress("ingest", 1.234)
    progress("build", None)
    progress("build", 12.0, False)
    progress.close()
    assert stream.getvalue().splitlines() == [
        f"ok {'ingest':<26}    1.2 s",
        f"FAILED {'build':<26}   12.0 s",
    ]


def test_run_prints_each_step_with_its_seconds(tmp_path: Path) -> None:
    """The real `dti run`, as a pipe sees it: a line per step on stderr, the summary on stdout."""
    from pipeline.sample import write_sample

    write_sample(tmp_path / "inbox", period=2023)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--period", "2023",
         "--inbox", str(tmp_path / "inbox"), "--warehouse", str(tmp_path / "w.duckdb"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("ok ")]
    assert steps == [
        "ingest", "seed", "validate_framework", "validate_submissions", "build",
        "validate_counted_answers", "validate_scores", "publish",
    ]  # fmt: skip
    assert all(line.endswith(" s") for line in proc.stderr.splitlines() if line.startswith("ok "))
    # the sample leaves some answers without the evidence their indicator requires (a warning)
    # and Quận 4 without answers (a warning)
    assert "Kiểm định dữ liệu: 4 bộ kiểm tra, đạt, 2 cảnh báo:" in proc.stdout
    assert "'required_evidence_missing'" in proc.stdout
    assert "Quận 4" in proc.stdout
