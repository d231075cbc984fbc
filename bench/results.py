"""bench/results.json, shared by `make bench` and `make bench-rush`: each writes its own keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def merge_results(path: Path, updates: Mapping[str, Any]) -> dict[str, Any]:
    """Writes ``updates`` into the JSON at ``path`` key by key: what another benchmark wrote
    under other keys stays."""
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        current = {}
    if not isinstance(current, dict):
        raise ValueError(f"{path} does not hold a JSON object; move it away and run again")
    merged = {**current, **updates}
    path.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return merged
