"""The portal HTTP API source: keyset-paginated JSON pulled by an ``updated_since`` watermark.

Contract (docs/spec/submissions.md §5.2):
``GET <url>/submissions?updated_since=<ts>&after_id=<id>&limit=<n>``
with ``Authorization: Bearer <token>`` answers ``{"items": [...], "has_more": bool}``; items are
ordered by ``(updated_at, id)`` and strictly after ``(updated_since, after_id)``. Each page is
archived as received and committed together with the watermark, so a pull that crashes resumes
after the last committed page.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import duckdb

from dti.settings import Settings
from ingest import archive, watermarks
from ingest.portal_common import PortalError, commit_items
from ingest.refusal import FileRefused
from ingest.report import IngestReport

log = logging.getLogger(__name__)

SOURCE = "portal_api"
PATH = "submissions"


@dataclass(frozen=True)
class ApiOptions:
    page_size: int = 500
    timeout_s: float = 30.0
    max_attempts: int = 6
    backoff_s: float = 1.0
    backoff_cap_s: float = 30.0


DEFAULT_OPTIONS = ApiOptions()


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 429)
    return isinstance(
        exc, urllib.error.URLError | TimeoutError | socket.timeout | ConnectionError
    ) or isinstance(exc, http.client.HTTPException)


def fetch(url: str, token: str, options: ApiOptions) -> bytes:
    """GET with bearer token; retries 5xx, 408, 429, timeouts and dropped connections."""
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
    )
    for attempt in range(1, options.max_attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=options.timeout_s) as response:
                return response.read()
        except Exception as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code in (401, 403):
                raise PortalError(
                    f"portal API refused the token (HTTP {exc.code}) at {url}; "
                    "set DTI_PORTAL_API_TOKEN to a valid token"
                ) from exc
            if not _retryable(exc):
                raise PortalError(f"portal API request {url} failed: {exc}") from exc
            if attempt == options.max_attempts:
                raise PortalError(
                    f"portal API {url} still failing after {attempt} attempts ({exc}); "
                    "the next run resumes from the last committed page"
                ) from exc
            delay = min(options.backoff_s * 2 ** (attempt - 1), options.backoff_cap_s)
            log.warning("portal API %s: %s; retry %d in %.1fs", url, exc, attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def page_url(base: str, mark: watermarks.Watermark | None, limit: int) -> str:
    query = {"limit": str(limit)}
    if mark is not None:
        query = {"updated_since": mark.updated_at, "after_id": mark.id, **query}
    return f"{base.rstrip('/')}/{PATH}?{urllib.parse.urlencode(query)}"


def _parse_page(body: bytes) -> tuple[list[dict], bool]:
    try:
        doc = json.loads(body.decode("utf-8"), parse_float=str, parse_constant=str)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileRefused("bad_json", f"portal API page is not valid UTF-8 JSON ({exc})") from exc
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FileRefused("bad_json", "portal API page has no 'items' list of objects")
    for n, item in enumerate(items, start=1):
        if item.get("updated_at") in (None, "") or item.get("id") in (None, ""):
            raise FileRefused(
                "bad_json", f"portal API item {n} lacks 'id' or 'updated_at' (the watermark keys)"
            )
    return items, bool(doc.get("has_more"))


def pull(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    report: IngestReport,
    options: ApiOptions | None = None,
) -> None:
    options = options or DEFAULT_OPTIONS  # read at call time: tests and operators may tune it
    if not settings.portal_api_url or not settings.portal_api_token:
        raise PortalError(
            "portal_api source needs DTI_PORTAL_API_URL and DTI_PORTAL_API_TOKEN to be set"
        )
    mark = watermarks.get(con, SOURCE)
    while True:
        url = page_url(settings.portal_api_url, mark, options.page_size)
        body = fetch(url, settings.portal_api_token, options)
        name = url.split("://", 1)[-1].split("/", 1)[-1]
        stored = archive.store_bytes(settings.archive, body)
        try:
            items, has_more = _parse_page(body)
        except FileRefused as refusal:
            report.add(commit_items(con, SOURCE, name, stored, None, None, refusal))
            raise PortalError(
                f"portal API page {url} is unreadable ({refusal.reason}); its bytes are kept at "
                f"{stored.stored_at}; the pull stops here and resumes from the watermark"
            ) from None
        if not items:
            return
        last = items[-1]
        new_mark = watermarks.Watermark(str(last["updated_at"]), str(last["id"]))
        if new_mark == mark:
            raise PortalError(f"portal API did not advance past {mark} at {url}; check the server")
        report.add(commit_items(con, SOURCE, name, stored, items, new_mark))
        mark = new_mark
        if not has_more:
            return
