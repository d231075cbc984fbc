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
from json.encoder import encode_basestring
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


# What json.dumps(text, ensure_ascii=False) calls: the C encoder, without its per-call setup
# (a results.json of 10,000 units writes 700,000 strings and numbers).
_string = encode_basestring


def _scalar(value: object) -> str | None:
    """The JSON text of a scalar, or ``None`` for a list or a dict."""
    kind = type(value)
    if kind is str:
        return _string(nfc(value))
    if kind is Decimal:
        return _decimal(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return None
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Only statistics from validation runs can be floats; scores never are.
        return json.dumps(value)
    if isinstance(value, str):
        return _string(nfc(str(value)))
    if isinstance(value, (datetime, date)):
        return json.dumps(value.isoformat())
    if isinstance(value, Path):
        return _string(nfc(str(value)))
    raise TypeError(f"cannot write {type(value).__name__} as JSON: {value!r}")


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return number_text(value)


def _write(value: object, out: list[str], level: int, indent: int) -> None:
    text = _scalar(value)
    if text is not None:
        out.append(text)
        return
    pad = " " * (indent * (level + 1))
    end_pad = " " * (indent * level)
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{\n")
        last = len(value) - 1
        for i, (key, item) in enumerate(value.items()):
            out.append(pad + _string(nfc(str(key))) + ": ")
            item_text = _scalar(item)
            if item_text is None:
                _write(item, out, level + 1, indent)
            else:
                out.append(item_text)
            out.append(",\n" if i < last else "\n")
        out.append(end_pad + "}")
        return
    # a list or a tuple
    if not value:
        out.append("[]")
        return
    # Short lists of scalars (indicator codes) stay on one line for readable diffs.
    if all(isinstance(v, (str, int, Decimal)) and not isinstance(v, bool) for v in value):
        line = "[" + ", ".join(_scalar(v) for v in value) + "]"
        if len(line) + len(pad) <= 100:
            out.append(line)
            return
    out.append("[\n")
    last = len(value) - 1
    for i, item in enumerate(value):
        out.append(pad)
        _write(item, out, level + 1, indent)
        out.append(",\n" if i < last else "\n")
    out.append(end_pad + "]")
