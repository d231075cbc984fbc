"""The grammar of every registry code, and the one way a code becomes part of a file name.

A code (unit, block, rank group, framework version, pillar, indicator, level) names files
(``results_<block>.csv``, ``don-vi/<unit>.html``, ``ban-do-<block>.html``), links and HTML ids,
so it is held to a grammar that cannot spell a path, markup or a control character: ASCII
letters and digits, with single ``.``, ``_`` or ``-`` between them, at most 64 characters
(docs/spec/results.md §1.1). Codes are compared case-insensitively for uniqueness, because
``so-hepza`` and ``SO-HEPZA`` are one file on the file systems of Windows and macOS.

The registry check (``ingest.registry``) and the framework checkpoint (``expectations``) both
test ``CODE_PATTERN``; the publisher names files with ``file_part`` only.
"""

from __future__ import annotations

import re

MAX_CODE_LENGTH = 64
# RE2 (DuckDB's regexp_full_match) and Python's re read this pattern alike.
CODE_PATTERN = "[A-Za-z0-9]+([._-][A-Za-z0-9]+)*"
# A period is a year: four ASCII digits (never ``²``, ``٣`` or fullwidth digits).
PERIOD_PATTERN = "[0-9]{4}"

_CODE = re.compile(CODE_PATTERN)
_PERIOD = re.compile(PERIOD_PATTERN)

GRAMMAR = (
    "ASCII letters and digits with single '.', '_' or '-' between them, "
    f"at most {MAX_CODE_LENGTH} characters"
)


# Where the registry writes each kind of code: (seed file, column). Every spelling of a kind
# is held to the grammar and must be unique ignoring case across all its places.
CODE_COLUMNS = {
    "unit": (
        ("units.csv", "unit_code"),
        ("former_units.csv", "unit_code"),
        ("unit_rank_groups.csv", "unit_code"),
        ("unit_locations.csv", "unit_code"),
        ("unit_lineage.csv", "predecessor_code"),
        ("unit_lineage.csv", "successor_code"),
    ),
    "block": (
        ("units.csv", "block"),
        ("frameworks.csv", "block"),
        ("pillars.csv", "block"),
        ("indicators.csv", "block"),
        ("levels.csv", "block"),
    ),
    "rank group": (
        ("units.csv", "rank_group"),
        ("rank_groups.csv", "rank_group"),
        ("unit_rank_groups.csv", "rank_group"),
    ),
    "framework version": (
        ("frameworks.csv", "framework_version"),
        ("pillars.csv", "framework_version"),
        ("indicators.csv", "framework_version"),
        ("levels.csv", "framework_version"),
    ),
    "pillar": (("pillars.csv", "pillar_code"), ("indicators.csv", "pillar_code")),
    "indicator": (("indicators.csv", "indicator_code"),),
    "level": (("levels.csv", "level_code"),),
}


class CodeError(ValueError):
    """A code outside the grammar reached a place that makes a file name of it."""


def is_code(text: str) -> bool:
    return len(text) <= MAX_CODE_LENGTH and _CODE.fullmatch(text) is not None


def is_period(text: str) -> bool:
    return _PERIOD.fullmatch(text) is not None


def file_part(code: str) -> str:
    """``code`` as it appears in a file name, a link or an HTML id: the code itself, since the
    grammar admits nothing a path or markup could read. A code outside the grammar is refused
    (never rewritten: two rewritten codes could name one file)."""
    if not is_code(code):
        raise CodeError(
            f"code {code!r} cannot name a file: a registry code is {GRAMMAR}; "
            "run `dti registry check` and fix the registry"
        )
    return code
