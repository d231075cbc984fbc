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

from dti.settings import Settings
from dti.text import printable
from ingest.refusal import FileRefused
from ingest.values import as_text

_SLICE = 4 * 1024 * 1024
_OPENERS, _CLOSERS, _COMMA, _QUOTE, _BACKSLASH = (91, 123), (93, 125), 44, 34, 92


def measure(data: bytes, stop_depth: int = 0, stop_values: int = 0) -> tuple[int, int]:
    """(deepest nesting, number of values) of a JSON text, without parsing it: linear time,
    no recursion, and no more memory than a few arrays the size of one slice of 4 MB.

    Brackets and commas count only outside strings; a quote is escaped when an odd run of
    backslashes precedes it (runs and open strings carry over from slice to slice). Values
    are counted as commas plus openers plus one (an upper bound of what the parser would
    build). Invalid JSON is measured all the same and left to the parser to refuse. With
    ``stop_depth`` or ``stop_values``, it stops at the first slice past either (a refusal
    costs no more than the bytes up to the limit).
    """
    import numpy as np

    depth = deepest = values = 0
    in_string = 0  # 1 inside a string at the end of the previous slice
    run = 0  # backslashes ending the previous slice
    for start in range(0, len(data), _SLICE):
        stop = min(start + _SLICE, len(data))
        part = np.frombuffer(data, np.uint8, count=stop - start, offset=start)
        quotes = part == _QUOTE
        if data.find(b"\\", start, stop) != -1:  # escapes: a quote after an odd run is text
            index = np.arange(len(part), dtype=np.int32)
            last_other = np.maximum.accumulate(np.where(part != _BACKSLASH, index, -1))
            at = np.flatnonzero(quotes)
            behind = np.where(at > 0, last_other[np.maximum(at - 1, 0)], -1)
            before = np.where(behind >= 0, at - 1 - behind, at + run)
            quotes[at[before % 2 == 1]] = False
            run = int(len(part) - 1 - last_other[-1]) if last_other[-1] >= 0 else len(part) + run
        else:
            if run % 2 and quotes[0]:
                quotes[0] = False
            run = 0
        # parity of the quotes so far (mod 256 keeps it): odd means inside a string
        outside = (np.cumsum(quotes, dtype=np.uint8) + in_string) % 2 == 0
        opens = outside & ((part == _OPENERS[0]) | (part == _OPENERS[1]))
        closes = outside & ((part == _CLOSERS[0]) | (part == _CLOSERS[1]))
        levels = np.cumsum(opens.astype(np.int32) - closes) + depth
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
        values += int(np.count_nonzero(opens)) + int(np.count_nonzero(outside & (part == _COMMA)))
        in_string = int(not outside[-1])
        if (stop_depth and deepest > stop_depth) or (stop_values and values >= stop_values):
            break
    return deepest, values + 1


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
_ANSWER_FIELDS = (
    "indicator_code", "value", "evidence_ref", "note", "appraiser", "reason", *_ROW_FIELDS
)  # fmt: skip


def read_rows(data: bytes, limits: Settings) -> list[dict[str, object]]:
    return rows_of(read_document(data, limits))


def read_document(data: bytes, limits: Settings) -> object:
    """The parsed JSON of an inbox file, measured against the limits before it is parsed
    (numbers kept as their text); refused whole when it cannot be read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            "not_utf8",
            f"JSON that is not valid UTF-8 (offset {exc.start}); JSON must be UTF-8, re-export it",
        ) from exc
    if not text or text.isspace():
        raise FileRefused("empty_file", "the file is empty; send the file with its answers")
    deepest, values = measure(data, limits.max_json_depth, limits.max_cells)
    if deepest > limits.max_json_depth:
        raise FileRefused(
            "too_deep",
            f"arrays and objects nested at least {deepest:,} deep, over the cap of "
            f"{limits.max_json_depth} (DTI_MAX_JSON_DEPTH); a submission needs 3 levels",
        )
    if values > limits.max_cells:
        raise FileRefused(
            "too_many_cells",
            f"more than {limits.max_cells:,} values, the cap (DTI_MAX_CELLS); split the file",
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
    return doc


def rows_of(doc: object) -> list[dict[str, object]]:
    """The answer rows of a parsed submission document (docs/spec/submissions.md §5.1)."""
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
