"""Data Docs that open without the internet, with our verdict on top.

GX's Data Docs pages load jQuery, Bootstrap and bootstrap-table from public CDNs; the index
page builds its tables of suites and validation runs with them, so on an offline machine (an
auditor's laptop, a government network, CI) it shows empty tables. After every build the
gate copies the vendored copies in ``data_docs_assets/`` (MIT and Apache-2.0, see LICENSES.txt)
into the site's ``static/vendor/`` and points the pages at them. What the pages do not need
goes: Vega (our suites draw no chart), the dark theme, the newsletter and tutorial footers,
links to GX's web site. Font Awesome, which draws the pass/fail icons, is replaced by
``icons.css`` (the three icons GX's templates use, drawn with Unicode characters), the S3
logos by the logo GX ships in ``static/images``. No page keeps an external URL
(``external_urls`` finds any left, and the tests check it).

GX calls a run with any failed expectation "Failed", warnings included. The gate records our
own verdict of each run (passed / passed with warnings / blocked, with the warnings) in
``static/dti/verdicts.json``, and every build puts it at the top of each run page and, for the
latest run of each checkpoint and period, of the index. The index also links the dbt
documentation of the latest release of each period (``link_model_docs``), kept in the same file.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from dti.vocabulary import CHECKPOINTS

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "data_docs_assets"

# CDN address in GX's templates → vendored file
VENDORED = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": "bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker.min.css",
}


# a local file has no origin: Subresource Integrity / CORS attributes would block it
_CROSSORIGIN = re.compile(
    r'(<(?:script|link)\b[^>]*?static/vendor/[^>]*?)\s+(?:integrity|crossorigin)="[^"]*"'
)


def _strip_cors(text: str) -> str:
    while True:
        stripped = _CROSSORIGIN.sub(r"\1", text)
        if stripped == text:
            return text
        text = stripped


ICONS = "icons.css"  # stands in for Font Awesome
_FONT_AWESOME = re.compile(
    r'<link[^>]*href="https://cdnjs\.cloudflare\.com/ajax/libs/font-awesome/[^"]*"[^>]*>'
)
_DROPPED = [
    re.compile(r'<script[^>]*src="https://cdn\.jsdelivr\.net/npm/vega[^"]*"[^>]*>\s*</script>'),
    re.compile(r'<link[^>]*href="https://cdn\.jsdelivr\.net/npm/@forevolve/[^"]*"[^>]*>'),
    re.compile(r"<footer>\s*<p>Stay current on everything GX.*?</footer>", re.S),
    re.compile(r'<footer[^>]*id="ge-cta-footer".*?</footer>', re.S),
]
_S3_LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"')]*")
_FAVICON = re.compile(r'href="[./]*static/images/favicon\.ico"')
_EXTERNAL_LINK = re.compile(r'<a\s[^>]*href="https?://[^"]*"[^>]*>(.*?)</a>', re.S)
_EXTERNAL_URL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*['"]?(?:https?:)?//"""
)


def _offline_page(text: str, page: Path, site: Path) -> str:
    static = os.path.relpath(site / "static", page.parent).replace(os.sep, "/")
    for url, name in VENDORED.items():
        text = text.replace(url, f"{static}/vendor/{name}")
    text = _FONT_AWESOME.sub(f'<link rel="stylesheet" href="{static}/vendor/{ICONS}">', text)
    for pattern in _DROPPED:
        text = pattern.sub("", text)
    text = _S3_LOGO.sub(f"{static}/images/logo-long.png", text)
    # GX points run pages at a favicon one folder too shallow
    text = _FAVICON.sub(f'href="{static}/images/favicon.ico"', text)
    text = _EXTERNAL_LINK.sub(r"\1", text)
    return _strip_cors(text)


def external_urls(site: Path) -> dict[str, list[str]]:
    """Pages that still load or link anything outside the site: ``{page: [snippets]}``."""
    found = {}
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        hits = [text[m.start() : m.start() + 80] for m in _EXTERNAL_URL.finditer(text)]
        if hits:
            found[str(page.relative_to(site))] = hits
    return found


def make_offline(site: Path, only: Iterable[Path] | None = None) -> int:
    """Points the pages of the Data Docs site at vendored assets, drops what needs the
    internet and puts our verdicts on top; returns the pages rewritten.

    ``only``: the pages GX wrote in this build (the index is always done); the others were
    made offline by the build that wrote them. ``None``: every page of the site.
    """
    if not site.is_dir():
        return 0
    vendor = site / "static" / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    for name in {*VENDORED.values(), ICONS}:
        target = vendor / name
        if not target.exists():
            shutil.copyfile(ASSETS / name, target)
    verdicts = read_verdicts(site)
    pages = (
        list(site.rglob("*.html"))
        if only is None
        else sorted({site / "index.html", *(p for p in only if p.is_file())})
    )
    rewritten = 0
    for page in pages:
        if not page.is_file():
            continue
        before = page.read_text(encoding="utf-8")
        text = _offline_page(before, page, site)
        relative = page.relative_to(site).as_posix()
        if relative == "index.html":
            text = _with_verdict(text, _index_verdicts(verdicts, page, site))
        elif relative in verdicts["pages"]:
            text = _with_verdict(text, _run_verdict(verdicts["runs"][verdicts["pages"][relative]]))
        if text != before:
            page.write_text(text, encoding="utf-8")
            rewritten += 1
    left = external_urls(site) if only is None else _external_urls_of(pages, site)
    if left:
        log.warning("Data Docs pages still name external URLs: %s", left)
    log.debug("made %d Data Docs page(s) offline", rewritten)
    return rewritten


def _external_urls_of(pages: Iterable[Path], site: Path) -> dict[str, list[str]]:
    found = {}
    for page in pages:
        if page.is_file():
            text = page.read_text(encoding="utf-8")
            hits = [text[m.start() : m.start() + 80] for m in _EXTERNAL_URL.finditer(text)]
            if hits:
                found[str(page.relative_to(site))] = hits
    return found


def prune_pages(site: Path, keep: int, adding: Mapping[str, int]) -> int:
    """Deletes the oldest validation pages of each suite so that the site holds at most
    ``keep`` once the build about to run adds ``adding[suite]`` new ones; returns how many
    were deleted.

    Only the HTML pages go: each run's GX result JSON (``gx/uncommitted/validations/``, named
    by the run's row in ``audit.validation_runs``) stays, so a pruned page can be rendered
    again from it. GX's index lists the pages the site holds, so it stays bounded too.
    """
    root = site / "validations"
    if not root.is_dir():
        return 0
    verdicts = read_verdicts(site)
    deleted = 0
    for suite in sorted(p for p in root.iterdir() if p.is_dir()):
        # validations/<suite>/<run name>/<run time>/<batch>.html; run times sort as written
        pages = sorted(
            suite.glob("*/*/*.html"), key=lambda p: (p.parent.name, p.parent.parent.name)
        )
        room = max(keep - adding.get(suite.name, 0), 0)
        for page in pages[: max(len(pages) - room, 0)]:
            page.unlink()
            deleted += 1
            verdicts["pages"].pop(page.relative_to(site).as_posix(), None)
            for folder in (page.parent, page.parent.parent):
                if not any(folder.iterdir()):
                    folder.rmdir()
    if deleted:
        _save_verdicts(site, verdicts)
    return deleted


# --- our verdict ------------------------------------------------------------------------------

PASSED, WITH_WARNINGS, BLOCKED = "passed", "passed with warnings", "blocked"
_VERDICT_VI = {PASSED: "đạt", WITH_WARNINGS: "đạt, có cảnh báo", BLOCKED: "chặn công bố"}
_VERDICT_CSS = {PASSED: "success", WITH_WARNINGS: "warning", BLOCKED: "danger"}
_START, _END = "<!-- dti-verdict:start -->", "<!-- dti-verdict:end -->"


def verdict_of(critical_failures: list[str], warnings: list[str]) -> str:
    if critical_failures:
        return BLOCKED
    return WITH_WARNINGS if warnings else PASSED


def _store(site: Path) -> Path:
    return site / "static" / "dti" / "verdicts.json"


def read_verdicts(site: Path) -> dict:
    try:
        data = json.loads(_store(site).read_text(encoding="utf-8"))
        if isinstance(data, dict) and {"runs", "pages"} <= set(data):
            data.setdefault("model_docs", {})
            data.setdefault("statistics", {})
            return data
    except (OSError, ValueError):
        pass
    return {"runs": {}, "pages": {}, "model_docs": {}, "statistics": {}}


def _save_verdicts(site: Path, verdicts: dict) -> None:
    path = _store(site)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(verdicts, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def link_model_docs(
    site: Path, *, period: int, release: int, page: Path, kind: str = "model_docs"
) -> None:
    """Links the index to ``page``, the dbt documentation kept with release ``release`` of
    ``period`` (the latest release of the period replaces the link of an earlier one); with
    ``kind="statistics"``, the release's statistical audit (``audit/thong-ke.html``)."""
    verdicts = read_verdicts(site)
    verdicts[kind][str(int(period))] = {"release": int(release), "page": str(page)}
    _save_verdicts(site, verdicts)
    index = site / "index.html"
    if index.is_file():
        text = index.read_text(encoding="utf-8")
        index.write_text(
            _with_verdict(text, _index_verdicts(verdicts, index, site)), encoding="utf-8"
        )


def record_verdict(
    site: Path,
    *,
    run_id: str,
    checkpoint: str,
    period: int,
    page: str,
    critical_failures: list[str],
    warnings: list[str],
    finished_at: str,
) -> str:
    """Keeps the verdict of a run for its page and the index; returns the verdict."""
    verdicts = read_verdicts(site)
    verdict = verdict_of(critical_failures, warnings)
    relative = ""
    if page and Path(page).is_relative_to(site):
        relative = Path(page).relative_to(site).as_posix()
        verdicts["pages"][relative] = run_id
    verdicts["runs"][run_id] = {
        "run_id": run_id,
        "checkpoint": checkpoint,
        "period": int(period),
        "verdict": verdict,
        "critical_failures": list(critical_failures),
        "warnings": list(warnings),
        "page": relative,
        "finished_at": finished_at,
    }
    _save_verdicts(site, verdicts)
    return verdict


def _items(title: str, lines: list[str]) -> str:
    if not lines:
        return ""
    rows = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in lines)
    return f"<p class='mb-1'>{title} ({len(lines)}):</p><ul class='mb-2'>{rows}</ul>"


def _run_verdict(run: dict) -> str:
    verdict = run["verdict"]
    return (
        f'<section id="dti-verdict" class="alert alert-{_VERDICT_CSS[verdict]} m-0 rounded-0" '
        'role="status" data-verdict="' + verdict + '">'
        f"<h2 class='h5'>DTI verdict — checkpoint <strong>{html.escape(run['checkpoint'])}"
        f"</strong>, period {run['period']}: <strong>{verdict}</strong> "
        f"({_VERDICT_VI[verdict]})</h2>"
        f"<p class='mb-1'>Run <code>{html.escape(run['run_id'])}</code>. GX shows “Failed” "
        "when any expectation fails; warnings do not block publishing, critical failures "
        "do.</p>"
        + _items("Critical failures (block publishing)", run["critical_failures"])
        + _items("Warnings", run["warnings"])
        + "</section>"
    )


def _index_verdicts(verdicts: dict, page: Path, site: Path) -> str:
    latest: dict[tuple[int, str], dict] = {}
    for run in verdicts["runs"].values():
        key = (run["period"], run["checkpoint"])
        if key not in latest or run["finished_at"] > latest[key]["finished_at"]:
            latest[key] = run
    if not latest:
        return ""
    order = {c: i for i, c in enumerate(CHECKPOINTS)}
    worst = (
        BLOCKED
        if any(r["verdict"] == BLOCKED for r in latest.values())
        else (
            WITH_WARNINGS if any(r["verdict"] == WITH_WARNINGS for r in latest.values()) else PASSED
        )
    )
    rows = []
    for (period, checkpoint), run in sorted(
        latest.items(), key=lambda item: (-item[0][0], order.get(item[0][1], 99))
    ):
        name = html.escape(checkpoint)
        if run["page"] and run["page"] in verdicts["pages"]:  # not pruned
            name = f'<a href="{html.escape(run["page"])}">{name}</a>'
        issues = run["critical_failures"] + run["warnings"]
        rows.append(
            f"<tr data-verdict='{run['verdict']}'><td>{period}</td><td>{name}</td>"
            f"<td><strong>{run['verdict']}</strong> ({_VERDICT_VI[run['verdict']]})</td>"
            f"<td>{''.join(f'<div><code>{html.escape(i)}</code></div>' for i in issues)}"
            "</td></tr>"
        )
    return (
        f'<section id="dti-verdict" class="alert alert-{_VERDICT_CSS[worst]} m-0 rounded-0" '
        f'role="status" data-verdict="{worst}">'
        f"<h2 class='h5'>DTI verdict of the latest run of each checkpoint: <strong>{worst}"
        f"</strong> ({_VERDICT_VI[worst]})</h2>"
        "<p class='mb-1'>GX shows “Failed” when any expectation fails; warnings do not block "
        "publishing, critical failures do.</p>"
        "<table class='table table-sm mb-0'><thead><tr><th>period</th><th>checkpoint</th>"
        "<th>verdict</th><th>critical failures and warnings</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{_model_docs_links(verdicts, page)}</section>"
    )


_RELEASE_PAGES = (
    ("model_docs", "dti-model-docs", "Models (dbt docs) that computed the latest release"),
    ("statistics", "dti-statistics", "Statistical audit of the indicators in the latest release"),
)


def _model_docs_links(verdicts: dict, index: Path) -> str:
    """Where the dbt documentation and the statistical audit of each period's latest release
    are, relative to the index (the releases live under OUT, beside this site)."""
    paragraphs = []
    for kind, css, words in _RELEASE_PAGES:
        links = []
        for period, docs in sorted(verdicts.get(kind, {}).items(), reverse=True):
            href = os.path.relpath(docs["page"], index.parent).replace(os.sep, "/")
            links.append(
                f'<a class="{css}" href="{html.escape(href)}">{html.escape(period)}, '
                f"release {int(docs['release'])}</a>"
            )
        if links:
            paragraphs.append(
                f"<p class='mb-0 mt-2'>{words} of each period: {' · '.join(links)}</p>"
            )
    return "".join(paragraphs)


def _with_verdict(text: str, banner: str) -> str:
    """``banner`` right after ``<body>``, replacing the one an earlier build put there."""
    text = re.sub(re.escape(_START) + ".*?" + re.escape(_END), "", text, flags=re.S)
    if not banner:
        return text
    match = re.search(r"<body[^>]*>", text)
    if match is None:
        return text
    return f"{text[: match.end()]}\n{_START}{banner}{_END}{text[match.end() :]}"
