"""Vietnamese collation for unit names: ``sorted(names, key=vietnamese_key)``.

Letters follow the Vietnamese alphabet (a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v
x y; f j w z, which appear only in loanwords, take their Latin places). Tones break ties only
when the letters are equal (no tone, huyền, hỏi, ngã, sắc, nặng — dictionary order), then
case. Runs of digits compare as numbers, so "Quận 2" comes before "Quận 10".

DuckDB's ICU ``collate vi`` agrees on letters and tones but compares digits as text
("Quận 10" before "Quận 2"), which is why the site uses this key.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

ALPHABET = (
    "a",
    "ă",
    "â",
    "b",
    "c",
    "d",
    "đ",
    "e",
    "ê",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "ô",
    "ơ",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "ư",
    "v",
    "w",
    "x",
    "y",
    "z",
)
_LETTER_RANK = {letter: i for i, letter in enumerate(ALPHABET)}

# Combining marks that make a new letter (ă â ê ô ơ ư) rather than a tone.
_LETTER_MARKS = {"\u0306": "\u0306", "\u0302": "\u0302", "\u031b": "\u031b"}
# Tone marks in dictionary order; 0 is "no tone" (thanh ngang).
TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}

_TOKEN = re.compile(r"\d+|\D", re.UNICODE)

Key = tuple[tuple[tuple[int, int], ...], tuple[int, ...], tuple[int, ...], str]


def _split_letter(char: str) -> tuple[str, int]:
    """A precomposed character as (base letter with its letter marks, tone number)."""
    decomposed = unicodedata.normalize("NFD", char)
    base = decomposed[0]
    marks = ""
    tone = 0
    for mark in decomposed[1:]:
        if mark in TONES:
            tone = TONES[mark]
        elif mark in _LETTER_MARKS:
            marks += mark
    return unicodedata.normalize("NFC", base + marks), tone


@lru_cache(maxsize=1 << 15)  # the index sorts every unit name twice (ranking, directory)
def vietnamese_key(text: str) -> Key:
    """Sort key: letters (primary), tones (secondary), case (tertiary), then the text itself."""
    text = unicodedata.normalize("NFC", text).strip()
    primary: list[tuple[int, int]] = []
    tones: list[int] = []
    cases: list[int] = []
    for token in _TOKEN.findall(text):
        if token.isdigit():
            primary.append((1, int(token)))
            continue
        letter, tone = _split_letter(token)
        lower = letter.lower()
        if lower in _LETTER_RANK:
            primary.append((2, _LETTER_RANK[lower]))
            tones.append(tone)
            cases.append(0 if letter == lower else 1)
        elif token.isspace():
            primary.append((0, 0))
        else:
            # Punctuation and other scripts: after spaces, before digits, by code point.
            primary.append((0, ord(lower)))
    return tuple(primary), tuple(tones), tuple(cases), text


def sort_vietnamese(names: list[str]) -> list[str]:
    return sorted(names, key=vietnamese_key)
