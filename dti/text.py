"""Text from data, made safe for where it is shown: a terminal, or published text.

A unit writes its evidence, notes and file names; an appraiser writes a reason. Printed raw,
an escape sequence clears the screen, hides text or writes the clipboard (OSC 52), a line
break forges a line of the audit note, and a right-to-left override (U+202E) shows a text
backwards. Every human command prints data fields through ``printable``; published text
(pages, CSV, XLSX, results.json) carries bidi controls through ``visible_bidi``.
"""

from __future__ import annotations

import re
from typing import Any

# Bidi embeddings, overrides and isolates: LRE RLE PDF LRO RLO, LRI RLI FSI PDI.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
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


def terminal_lines(text: str) -> str:
    """A whole rendered output, each of its lines ``printable``: the last guard at the door
    of the `dti` command, for anything a renderer printed without ``printable``."""
    if text.isprintable():
        return text
    return "\n".join(printable(line) for line in text.split("\n"))


def visible_bidi(text: str) -> str:
    """Published text with each bidi control shown as its escape (``\\u202e``): the reader
    sees that the sender tried to reorder the text instead of reading it reordered."""
    if not _BIDI.search(text):
        return text
    return _BIDI.sub(lambda m: _escape(m.group()), text)
