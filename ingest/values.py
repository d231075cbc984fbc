"""Cell and JSON values to the text ``raw.submission_rows`` keeps ("as sent")."""

from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata
from decimal import Decimal


def as_text(value: object) -> str | None:
    """NFC text of a value read by openpyxl or json: numbers without float noise or exponents."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.isascii() else unicodedata.normalize("NFC", value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return unicodedata.normalize("NFC", json.dumps(value, ensure_ascii=False))
