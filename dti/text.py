"""Text from data, made safe for where it is shown: a terminal, or published text.

A unit writes its evidence, notes and file names; an appraiser writes a reason. Printed raw,
an escape sequence clears the screen, hides text or writes the clipboard (OSC 52), a line
break forges a line of the audit note, and a right-to-left override (U+202E) shows a text
backwards. Every human command prints data fields through ``printable``; published text
(pages, CSV, XLSX, results.json) goes through ``published_text``.
"""

from __future__ import annotations

import re
from typing import Any

# Bidi embeddings, overrides and isolates: LRE RLE PDF LRO RLO, LRI RLI FSI PDI.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# What published text shows as escapes: bidi controls, and the control characters a page or
# a spreadsheet cannot show (all but tab, line feed and carriage return, which text may hold).
_NOT_PUBLISHED = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{BIDI_CONTROLS}]")
# What `printable` escapes besides what str.isprintable refuses: nothing; listed for readers
# (C0 and C1 controls with ESC and CSI, DEL, line and paragraph separators, bidi controls,
# zero-width and other format characters are all "not printable" to Python).


def _escape(c: str) -> str:
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable(text: str) -> str:
    """``text`` with control characters, line separators and bidi controls shown as escapes
    (``\\x1b``, ``\\x0a``, ``\\u202e``), so a field can never forge a line of `dti ledger` or
    the audit note, nor drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def printable_fields(value: Any) -> Any:
    """``value`` with every string in it (through dicts, lists and tuples) ``printable``:
    a document from the warehouse, ready for a renderer that adds its own line breaks."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {k: printable_fields(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(printable_fields(v) for v in value)
    return value


def terminal_text(text: str) -> str:
    """Everything but the line break ``printable``: the last guard at the door of the `dti`
    command, for anything a renderer printed without ``printable``. Stateless per character,
    so a text written in pieces is guarded alike."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else _escape(c) for c in text)


def _json_escape(c: str) -> str:
    code = ord(c)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells a character beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def printable_json(text: str) -> str:
    """JSON text with every character a terminal would act on (C1 controls such as CSI, line
    separators, bidi controls) written as a ``\\uXXXX`` escape: the same JSON value, safe to
    print. (``json.dumps`` escapes only C0 controls when ``ensure_ascii`` is off.)"""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else _json_escape(c) for c in text)


class TerminalStream:
    """A text stream whose every write goes through ``terminal_text`` (`dti`'s stdout)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal_text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def published_text(text: str) -> str:
    """Published text with each bidi control and control character shown as its escape
    (``\\u202e``, ``\\x1b``): the reader sees that the sender tried to reorder or hide the
    text instead of reading it reordered."""
    if not _NOT_PUBLISHED.search(text):
        return text
    return _NOT_PUBLISHED.sub(lambda m: _escape(m.group()), text)
