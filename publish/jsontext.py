"""Deterministic JSON text with exact decimals.

``json.dumps`` cannot write a ``Decimal`` as a number without passing through ``float``;
this writer emits ``Decimal`` as its exact text (at most 2 decimals), keeps dict order,
escapes nothing but what JSON requires (``ensure_ascii=False``) and normalises strings to NFC.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from publish.numbers import number_text


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def dumps(value: object, indent: int = 2) -> str:
    """JSON text of ``value`` ending with a newline; the same value gives the same bytes."""
    parts: list[str] = []
    _write(value, parts, 0, indent)
    parts.append("\n")
    return "".join(parts)


def _write(value: object, out: list[str], level: int, indent: int) -> None:
    pad = " " * (indent * (level + 1))
    end_pad = " " * (indent * level)
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        out.append(number_text(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        # Only statistics from validation runs can be floats; scores never are.
        out.append(json.dumps(value))
    elif isinstance(value, str):
        out.append(json.dumps(nfc(value), ensure_ascii=False))
    elif isinstance(value, (datetime, date)):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Path):
        out.append(json.dumps(nfc(str(value)), ensure_ascii=False))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{\n")
        for i, (key, item) in enumerate(value.items()):
            out.append(pad + json.dumps(nfc(str(key)), ensure_ascii=False) + ": ")
            _write(item, out, level + 1, indent)
            out.append(",\n" if i < len(value) - 1 else "\n")
        out.append(end_pad + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        # Short lists of scalars (indicator codes) stay on one line for readable diffs.
        if all(isinstance(v, (str, int, Decimal)) and not isinstance(v, bool) for v in value):
            items: list[str] = []
            for v in value:
                _write(v, items, level + 1, indent)
            line = "[" + ", ".join(items) + "]"
            if len(line) + len(pad) <= 100:
                out.append(line)
                return
        out.append("[\n")
        for i, item in enumerate(value):
            out.append(pad)
            _write(item, out, level + 1, indent)
            out.append(",\n" if i < len(value) - 1 else "\n")
        out.append(end_pad + "]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON: {value!r}")
