"""JSON inbox files: one submission object, a list of them, or ``{"submissions": [...]}``.

Numbers are kept as the text that was sent (no float rounding); ``NaN``/``Infinity``, which
Python's parser accepts, reach row validation as text and are refused there one by one.
"""

from __future__ import annotations

import json

from ingest.refusal import FileRefused
from ingest.values import as_text

_ROW_FIELDS = ("period", "unit_code", "stage", "submitted_at")
_ANSWER_FIELDS = (
    "indicator_code", "value", "evidence_ref", "note", "appraiser", "reason", *_ROW_FIELDS
)  # fmt: skip


def read_rows(data: bytes) -> list[dict[str, object]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            "not_utf8",
            f"JSON that is not valid UTF-8 (offset {exc.start}); JSON must be UTF-8, re-export it",
        ) from exc
    if not text.strip():
        raise FileRefused("empty_file", "the file is empty; send the file with its answers")
    try:
        doc = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
    except json.JSONDecodeError as exc:
        raise FileRefused(
            "bad_json",
            f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
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
