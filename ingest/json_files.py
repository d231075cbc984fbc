"""JSON inbox files: one submission object, a list of them, or ``{"submissions": [...]}``.

Numbers are kept as the text that was sent (no float rounding); ``NaN``/``Infinity``, which
Python's parser accepts, reach row validation as text and are refused there one by one.

Before the parser runs, the bytes are measured (``measure``): nesting depth and the number of
values, outside strings, in slices and without recursion. Python's parser recurses once per
level (a file nested 100,000 deep would raise ``RecursionError``) and holds every value as an
object, so a file over ``DTI_MAX_JSON_DEPTH`` or ``DTI_MAX_CELLS`` is refused unparsed. An
object that names a key twice is refused too (the parser would silently keep the last).
"""

from __future__ import annotations

import json
import re

from dti.settings import Settings
from ingest.refusal import FileRefused, printable
from ingest.values import as_text

# A JSON string (escapes included), matched without backtracking: what ``measure`` skips.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_STRUCTURE = bytes(range(256)).translate(None, b"[]{},")  # every byte but these is deleted
_SLICE = 16 * 1024 * 1024


def measure(data: bytes) -> tuple[int, int]:
    """(deepest nesting, number of values) of a JSON text, linear time, without recursion.

    Values are counted as separators plus containers (an upper bound of what the parser
    would build); a string that never ends is left to the parser to refuse.
    """
    import numpy as np

    outside = _STRING.sub(b'""', data)
    structure = outside.translate(None, _STRUCTURE)
    depth, deepest = 0, 0
    for start in range(0, len(structure), _SLICE):
        part = np.frombuffer(structure, np.uint8, count=min(_SLICE, len(structure) - start),
                             offset=start)  # fmt: skip
        steps = (part == ord("[")).astype(np.int64) + (part == ord("{"))
        steps -= (part == ord("]")).astype(np.int64) + (part == ord("}"))
        levels = np.cumsum(steps) + depth
        if len(levels):
            deepest = max(deepest, int(levels.max()))
            depth = int(levels[-1])
    values = len(structure) - structure.count(b"]") - structure.count(b"}") + 1
    return deepest, values


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise FileRefused(
            "duplicate_keys",
            f"an object names the key {printable(twice[:80])!r} twice (which value counts "
            "cannot be told); keep one and send the file again",
        )
    return found


_ROW_FIELDS = ("period", "unit_code", "stage", "submitted_at")
_ANSWER_FIELDS = ("indicator_code", "value", "evidence_ref", *_ROW_FIELDS)


def read_rows(data: bytes, limits: Settings) -> list[dict[str, object]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            "not_utf8",
            f"JSON that is not valid UTF-8 (offset {exc.start}); JSON must be UTF-8, re-export it",
        ) from exc
    if not text.strip():
        raise FileRefused("empty_file", "the file is empty; send the file with its answers")
    deepest, values = measure(data)
    if deepest > limits.max_json_depth:
        raise FileRefused(
            "too_deep",
            f"arrays and objects nested {deepest:,} deep, over the cap of "
            f"{limits.max_json_depth} (DTI_MAX_JSON_DEPTH); a submission needs 3 levels",
        )
    if values > limits.max_cells:
        raise FileRefused(
            "too_many_cells",
            f"about {values:,} values, over the cap of {limits.max_cells:,} (DTI_MAX_CELLS); "
            "split the file",
        )
    try:
        doc = json.loads(
            text,
            parse_float=str,
            parse_int=str,
            parse_constant=str,
            object_pairs_hook=_refuse_duplicate_keys,
        )
    except json.JSONDecodeError as exc:
        raise FileRefused(
            "bad_json",
            f"not valid JSON ({printable(exc.msg)} at line {exc.lineno}, column {exc.colno}); "
            "the file may be truncated: send it again complete",
        ) from exc
    if isinstance(doc, dict) and "submissions" in doc:
        doc = doc["submissions"]
    submissions = doc if isinstance(doc, list) else [doc]
    rows: list[dict[str, object]] = []
    for n, submission in enumerate(submissions, start=1):
        if not isinstance(submission, dict) or not isinstance(submission.get("answers"), list):
            raise FileRefused(
                "bad_json",
                f"submission {n} is not an object with an 'answers' list "
                '(expected {"period": ..., "unit_code": ..., "answers": [...]})',
            )
        for answer in submission["answers"]:
            row: dict[str, object] = {"source_row": len(rows) + 1}
            if not isinstance(answer, dict):
                answer = {"value": answer}
            for field_name in _ANSWER_FIELDS:
                raw = answer.get(field_name, submission.get(field_name))
                row[field_name] = as_text(raw)
            rows.append(row)
    if not rows:
        raise FileRefused("empty_file", "the JSON holds no answers")
    return rows
