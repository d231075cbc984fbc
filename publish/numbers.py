"""Decimal numbers as text: exact JSON numbers and Vietnamese display (96,95).

Scores are never converted to binary floating point: the marts hand us ``Decimal`` and the
text is derived from it digit by digit.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

HUNDREDTH = Decimal("0.01")


def as_decimal(value: object) -> Decimal | None:
    """A value from the warehouse as ``Decimal`` (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got the boolean {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    # Strings and, defensively, floats from a DOUBLE column: go through their shortest text.
    return Decimal(str(value))


def round2(value: Decimal) -> Decimal:
    """Rounded to 2 decimals, half up (the contract's rounding, docs/spec/results.md §3)."""
    return value.quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


@lru_cache(maxsize=65536)  # depends on the value only (1.0 and 1.00 give the same text)
def number_text(value: Decimal) -> str:
    """Shortest exact text with at most 2 decimals: ``96.95``, ``330``, ``264.5``."""
    text = format(round2(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


@lru_cache(maxsize=65536)  # a national site formats millions of numbers, few of them distinct
def vn_number(value: Decimal | None, places: int | None = None, missing: str = "—") -> str:
    """Vietnamese display: decimal comma, dot between thousands (``1.234,5``, ``96,95``).

    ``places`` fixes the number of decimals (``264,00``); by default trailing zeros go.
    """
    if value is None:
        return missing
    if places is None:
        text = number_text(value)
    else:
        quantum = Decimal(1).scaleb(-places)
        text = format(value.quantize(quantum, rounding=ROUND_HALF_UP), "f")
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    whole, _, fraction = text.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    result = sign + ".".join(groups)
    return f"{result},{fraction}" if fraction else result


def percent_of(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole × 100`` rounded half up to 2 decimals, in decimal arithmetic."""
    if not whole:
        return None
    return round2(part * 100 / whole)


def median(values: Sequence[Decimal]) -> Decimal | None:
    """The middle value, or the mean of the two middle ones; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
