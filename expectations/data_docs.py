"""Data Docs that open without the internet.

GX's Data Docs pages load jQuery, Bootstrap and bootstrap-table from public CDNs; the index
page builds its tables of suites and validation runs with them, so on an offline machine (an
auditor's laptop, a government network, CI) it shows empty tables. After every build the
gate copies the vendored copies in ``data_docs_assets/`` (MIT and Apache-2.0, see LICENSES.txt)
into the site's ``static/vendor/`` and points the pages at them. The remaining CDN links
(icons, charts, dark theme) only decorate and degrade quietly.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

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


def make_offline(site: Path) -> int:
    """Points every page of the Data Docs site at vendored assets; returns pages rewritten."""
    if not site.is_dir():
        return 0
    vendor = site / "static" / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    for name in set(VENDORED.values()):
        target = vendor / name
        if not target.exists():
            shutil.copyfile(ASSETS / name, target)
    rewritten = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if not any(url in text for url in VENDORED):
            continue
        prefix = os.path.relpath(vendor, page.parent).replace(os.sep, "/")
        for url, name in VENDORED.items():
            text = text.replace(url, f"{prefix}/{name}")
        page.write_text(_strip_cors(text), encoding="utf-8")
        rewritten += 1
    log.debug("pointed %d Data Docs page(s) at vendored assets", rewritten)
    return rewritten
