"""``OUT/index.html``: every published period, its release, its date and a link to its site.

Rewritten whenever a period's current release changes (``publish.releases`` calls
``write_site_index`` after each switch), by writing a new file beside it and renaming it over
the old one: a reader sees the old index or the new one, never half of one. Two periods
published at once take turns on a lock, each listing what is on disk then.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from html import escape
from pathlib import Path

from publish.collation import vietnamese_key
from publish.site import CSS, STYLESHEET, block_name

log = logging.getLogger(__name__)

PAGE = "index.html"
LOCK = ".releases/index.lock"
VIETNAM = timezone(timedelta(hours=7))
STATUS_WORDS = {"approved": "Đã công bố"}
PUBLICATION_WORDS = {"final": "chính thức", "preliminary": "sơ bộ"}


@dataclass(frozen=True)
class PeriodEntry:
    """A period with a current release under ``OUT``, as its manifest describes it."""

    period: int
    release: int | None
    status: str  # the current release's status (approved)
    publication: str  # final (chính thức) / preliminary (sơ bộ)
    published_at: str | None  # approved_at, else built_at (UTC, ISO-8601)
    blocks: tuple[str, ...]
    framework_version: str
    validation_passed: bool


def _date_text(stamp: str | None) -> str:
    """``2026-03-01T02:30:00Z`` as the date in Vietnam (01/03/2026); empty when unknown."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y")


def render_site_index(entries: Sequence[PeriodEntry]) -> str:
    """The page listing ``entries``, newest period first; block names in Vietnamese order."""
    rows = []
    for entry in sorted(entries, key=lambda e: -e.period):
        blocks = sorted((block_name(b) for b in entry.blocks), key=vietnamese_key)
        status = STATUS_WORDS.get(entry.status, entry.status)
        publication = PUBLICATION_WORDS.get(entry.publication, entry.publication)
        rows.append(
            f'<tr data-period="{entry.period}" data-status="{escape(entry.status)}" '
            f'data-publication="{escape(entry.publication)}">'
            f'<th scope="row"><a href="{entry.period}/index.html">Năm {entry.period}</a></th>'
            f"<td>{escape(status)} ({escape(publication)})</td>"
            f'<td class="num">{entry.release if entry.release is not None else "—"}</td>'
            f'<td><time datetime="{escape(entry.published_at or "")}">'
            f"{_date_text(entry.published_at)}</time></td>"
            f"<td>{escape('; '.join(blocks))}</td>"
            f"<td>{escape(entry.framework_version)}</td>"
            f"<td>{'đạt' if entry.validation_passed else 'KHÔNG đạt'}</td></tr>"
        )
    table = (
        '<table class="periods"><caption>Các kỳ đánh giá đã công bố</caption><thead><tr>'
        '<th scope="col">Kỳ đánh giá</th><th scope="col">Trạng thái</th>'
        '<th scope="col" class="num">Lần công bố</th><th scope="col">Ngày</th>'
        '<th scope="col">Khối</th><th scope="col">Khung đánh giá</th>'
        f'<th scope="col">Kiểm tra dữ liệu</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
        if rows
        else '<p class="periods-none">Chưa có kỳ đánh giá nào được công bố.</p>'
    )
    title = "Chỉ số chuyển đổi số (DTI) — các kỳ đánh giá"
    # The stylesheet of the newest period serves this page too (every period ships it).
    stylesheet = f"{max(e.period for e in entries)}/{STYLESHEET}" if entries else ""
    link = f'<link rel="stylesheet" href="{stylesheet}">\n' if stylesheet else ""
    inline = "" if stylesheet else f"<style>{CSS}</style>\n"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{link}{inline}"
        "</head>\n<body>\n"
        f'<header class="site"><h1>{escape(title)}</h1>'
        "<p>Kết quả đánh giá mức độ chuyển đổi số của các cơ quan, đơn vị qua từng năm</p>"
        "</header>\n"
        f'<main id="noi-dung">\n{table}\n</main>\n'
        "</body>\n</html>\n"
    )


def write_atomically(path: Path, data: bytes) -> None:
    """A new file beside ``path`` (a name of its own), flushed to disk, renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the page from a web server
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a power cut once the folder is flushed
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_site_index(out: Path, entries_of: Callable[[Path], list[PeriodEntry]]) -> Path:
    """Lists what ``entries_of(out)`` finds under ``out`` into ``OUT/index.html``."""
    lock_path = out / LOCK
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        entries = entries_of(out)
        path = out / PAGE
        write_atomically(path, render_site_index(entries).encode("utf-8"))
    finally:
        os.close(fd)
    log.info("%s lists %d published periods", path, len(entries))
    return path
