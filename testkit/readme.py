"""The command blocks of the README and the guides, as the tests find and run them.

Every ```` ```bash ```` block is a command a person may paste, so each one runs in a test.
A block may be preceded by a marker that says where it runs instead:

    <!-- run: here -->                 (the same as no marker) the guides' test runs it
    <!-- walkthrough:new-year -->      tests/pipeline/test_years.py runs it as its fixture
    <!-- run: make -->                 the two commands: `make test` is what .ci/run runs,
                                       `make demo` is checked with `make -n`
    <!-- run: stack:NAME -->           needs a running Airflow stack (``STACK_BLOCKS``)
    <!-- run: skip: REASON -->         not run, and the reason says why
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from dti.settings import PROJECT_ROOT

GUIDES = (
    "README.md",
    "docs/operating.md",
    "docs/publishing.md",
    "docs/auditing.md",
    "docs/operations.md",
    "docs/settings.md",
    "docs/limits.md",
)
_MARKER = re.compile(r"^\s*<!-- (?:run: )?(.+?) -->\s*$")
_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # of the opening fence, 1-based
    marker: str  # "here" when the block has none
    code: str

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def blocks(docs: tuple[str, ...] = GUIDES) -> list[Block]:
    """Every bash block of ``docs``, in order, with its marker."""
    found = []
    for doc in docs:
        lines = (PROJECT_ROOT / doc).read_text(encoding="utf-8").split("\n")
        i = 0
        while i < len(lines):
            fence = _FENCE.match(lines[i])
            if not fence:
                i += 1
                continue
            start, language = i, fence.group(2)
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            if language == "bash":
                before = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
                marked = _MARKER.match(before)
                code = textwrap.dedent("\n".join(lines[start + 1 : i])) + "\n"
                found.append(Block(doc, start + 1, marked.group(1) if marked else "here", code))
            i += 1
    return found


def readme_command(stack_name: str, doc: str = "README.md") -> str:
    """The one command of the block marked ``run: stack:<stack_name>`` in ``doc``."""
    (block,) = [b for b in blocks((doc,)) if b.marker == f"stack:{stack_name}"]
    commands = [ln for ln in block.code.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 1, block
    return commands[0]


# The blocks that need a running Airflow stack: the test that runs each, or why none does.
STACK_BLOCKS = {
    "backfill": "tests/orchestration/test_e2e_years.py",
    "up": "not run as written: `make airflow` runs in the foreground until Ctrl-C; the e2e "
    "tests start the same stack (orchestration.stack) through testkit.airflow_stack",
    "deliver": "not run as written: it needs `make airflow` running; the e2e tests drop the "
    "sample into a stack's inbox and publish on Redis the same way",
    "docker": "not run: Docker is not on the test machines; tests/dags/test_compose_file.py "
    "checks the compose file",
    "latency": "a benchmark that starts its own stack (minutes): bench/, not the test suite",
}
