"""The portal HTTP API source: keyset-paginated JSON pulled by an ``updated_since`` watermark.

Contract (docs/spec/submissions.md §5.2):
``GET <url>/submissions?updated_since=<ts>&after_id=<id>&limit=<n>``
with ``Authorization: Bearer <token>`` answers ``{"items": [...], "has_more": bool}``; items are
ordered by ``(updated_at, id)`` and strictly after ``(updated_since, after_id)``. Each page is
archived as received and committed together with the watermark, so a pull that crashes resumes
after the last committed page.

A misbehaving or hostile server cannot hold the pull (and the warehouse) for long or make it
leak the token (docs/limits.md): redirects are followed only within the portal's own origin
(scheme, host and port), a redirect elsewhere stops the pull without a request there; every
request has a total deadline, answer body included (``DTI_PORTAL_REQUEST_SECONDS``: a server
sending one byte every few seconds is cut off), and the pull one in all
(``DTI_PORTAL_PULL_SECONDS``); a page is read as a stream and refused past
``DTI_PORTAL_MAX_PAGE_BYTES``; a pull stops after ``DTI_PORTAL_MAX_PAGES`` pages, and a page
that does not move the watermark forward is refused in the ledger and stops the pull.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import duckdb
import httpx

from dti.settings import Settings
from dti.text import printable
from ingest import archive, watermarks
from ingest.portal_common import PortalError, commit_items
from ingest.refusal import FileRefused
from ingest.report import IngestReport

log = logging.getLogger(__name__)

SOURCE = "portal_api"
PATH = "submissions"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
LOCAL_TIME = timezone(timedelta(hours=7))  # an updated_at without offset, as submitted_at


@dataclass(frozen=True)
class ApiOptions:
    page_size: int = 500
    timeout_s: float = 30.0  # connect, and each read (the whole request: settings)
    max_attempts: int = 6
    backoff_s: float = 1.0
    backoff_cap_s: float = 30.0
    max_redirects: int = 5


DEFAULT_OPTIONS = ApiOptions()


class _Retry(Exception):
    """A failure worth another attempt (5xx, 408, 429, timeouts, dropped connections)."""


@dataclass
class Page:
    body: bytes
    too_large: bool = False  # ``body`` is then the first bytes received, up to the cap


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return (
        scheme,
        (parts.hostname or "").lower(),
        parts.port or {"http": 80, "https": 443}.get(scheme),
    )


def _shown(url: str) -> str:
    """A URL as it may be written in a message: scheme, host, port and path (no user info)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


class _Deadline:
    def __init__(self, seconds: float, what: str) -> None:
        self.at = time.monotonic() + seconds
        self.seconds = seconds
        self.what = what

    def left(self) -> float:
        return self.at - time.monotonic()


def _get_once(
    client: httpx.Client, url: str, token: str, max_bytes: int, cancel: threading.Event
) -> tuple[int, str | None, Page]:
    """One GET (no redirect followed): status, Location, body read as a stream up to the cap."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with client.stream("GET", url, headers=headers) as response:
        if response.is_redirect:
            return response.status_code, response.headers.get("location"), Page(b"")
        cap = max_bytes if response.status_code == 200 else 64 * 1024
        declared = response.headers.get("content-length", "")
        if (
            declared.isascii()
            and declared.isdigit()
            and int(declared) > cap
            and response.status_code == 200
        ):
            return response.status_code, None, Page(b"", too_large=True)
        received = bytearray()
        for chunk in response.iter_bytes():
            if cancel.is_set():
                break
            received += chunk
            if len(received) > cap:
                return response.status_code, None, Page(bytes(received[:cap]), too_large=True)
        return response.status_code, None, Page(bytes(received))


def _get_within(
    client: httpx.Client, url: str, token: str, max_bytes: int, deadline: _Deadline
) -> tuple[int, str | None, Page]:
    """``_get_once`` in a worker thread, given up at ``deadline`` whatever the server does
    (a read timeout bounds one read only: a slow server could otherwise keep a request alive
    for ever). The abandoned worker ends at its next read."""
    cancel = threading.Event()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["result"] = _get_once(client, url, token, max_bytes, cancel)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    # A worker given up on ends at its next chunk (``cancel``) or read timeout; one stuck in a
    # server's endless headers lives on as a daemon thread until the process ends (a `dti`
    # command or an Airflow task), holding no warehouse connection.
    worker = threading.Thread(target=work, name="portal-api-get", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline.left()))
    if worker.is_alive():
        cancel.set()
        raise _Retry(f"no complete answer within {deadline.seconds:g} s ({deadline.what})")
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc):
            # httpx reads a redirect's Location even when it does not follow it: a Location
            # that is no address (``http://h:P:Q/``) is the server's answer, not a network fault
            raise PortalError(
                f"portal API {_shown(url)} redirected to an invalid address ({exc}): not "
                "followed; set DTI_PORTAL_API_URL to the portal's own address"
            ) from None
        if isinstance(exc, httpx.TimeoutException | httpx.TransportError):
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        raise PortalError(f"portal API request {_shown(url)} failed: {exc}") from exc
    return outcome["result"]  # type: ignore[return-value]


def fetch(
    client: httpx.Client,
    url: str,
    token: str,
    options: ApiOptions,
    settings: Settings,
    pull_deadline: _Deadline,
) -> Page:
    """GET with the bearer token, retried with backoff on 5xx, 408, 429, timeouts and dropped
    connections; redirects followed within the portal's origin only."""
    home = origin(url)
    for attempt in range(1, options.max_attempts + 1):
        try:
            target = url
            for _ in range(options.max_redirects + 1):
                budget = min(settings.portal_request_seconds, pull_deadline.left())
                what = (
                    "DTI_PORTAL_REQUEST_SECONDS"
                    if budget == settings.portal_request_seconds
                    else "DTI_PORTAL_PULL_SECONDS"
                )
                status, location, page = _get_within(
                    client, target, token, settings.portal_max_page_bytes, _Deadline(budget, what)
                )
                if location is None:
                    break
                try:  # a port such as "P:Q" or a broken IPv6 host is no address at all
                    following = urllib.parse.urljoin(target, location)
                    there = origin(following)
                except ValueError:
                    raise PortalError(
                        f"portal API {_shown(target)} redirected (HTTP {status}) to an invalid "
                        f"address {printable(location[:200])!r}: not followed; set "
                        "DTI_PORTAL_API_URL to the portal's own address"
                    ) from None
                if there != home:
                    raise PortalError(
                        f"portal API {_shown(target)} redirected (HTTP {status}) to another "
                        f"origin, {_shown(following)}: not followed (the token is sent to the "
                        "portal only); set DTI_PORTAL_API_URL to the portal's own address"
                    )
                target = following
            else:
                raise PortalError(
                    f"portal API {_shown(url)}: more than {options.max_redirects} redirects"
                )
            if status in (401, 403):
                raise PortalError(
                    f"portal API refused the token (HTTP {status}) at {_shown(url)}; "
                    "set DTI_PORTAL_API_TOKEN to a valid token"
                )
            if status in RETRY_STATUSES:
                raise _Retry(f"HTTP {status}")
            if status != 200:
                raise PortalError(
                    f"portal API request {_shown(url)} failed: HTTP {status} "
                    f"{printable(page.body[:300].decode('utf-8', 'replace'))}"
                )
            return page
        except _Retry as exc:
            if pull_deadline.left() <= 0:
                raise PortalError(
                    f"portal API pull stopped: it took longer than {pull_deadline.seconds:g} s "
                    f"(DTI_PORTAL_PULL_SECONDS; last: {exc}); committed pages are kept and the "
                    "next run resumes from the watermark"
                ) from None
            if attempt == options.max_attempts:
                raise PortalError(
                    f"portal API {_shown(url)} still failing after {attempt} attempts ({exc}); "
                    "the next run resumes from the last committed page"
                ) from None
            delay = min(options.backoff_s * 2 ** (attempt - 1), options.backoff_cap_s)
            delay = max(0.0, min(delay, pull_deadline.left()))
            log.warning("portal API %s: %s; retry %d in %.1fs", _shown(url), exc, attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def page_url(base: str, mark: watermarks.Watermark | None, limit: int) -> str:
    query = {"limit": str(limit)}
    if mark is not None:
        query = {"updated_since": mark.updated_at, "after_id": mark.id, **query}
    return f"{base.rstrip('/')}/{PATH}?{urllib.parse.urlencode(query)}"


def _order_key(updated_at: object, item_id: object) -> tuple:
    """Where an item sits in ``(updated_at, id)`` order: instants compared as instants, ids
    made of digits compared as numbers (the text as sent otherwise)."""
    text = str(updated_at)
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=LOCAL_TIME)
        moment: tuple = (0, instant.astimezone(UTC), "")
    except ValueError:
        moment = (1, datetime.min.replace(tzinfo=UTC), text)
    ident = str(item_id)
    # ASCII digits only: "²" passes str.isdigit and fails int()
    return (*moment, (0, int(ident), "") if ident.isascii() and ident.isdigit() else (1, 0, ident))


def _parse_page(body: bytes) -> tuple[list[dict], bool]:
    try:
        doc = json.loads(body.decode("utf-8"), parse_float=str, parse_constant=str)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FileRefused(
            "bad_json", f"portal API page is not valid UTF-8 JSON ({printable(str(exc))[:200]})"
        ) from None
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FileRefused("bad_json", "portal API page has no 'items' list of objects")
    for n, item in enumerate(items, start=1):
        if item.get("updated_at") in (None, "") or item.get("id") in (None, ""):
            raise FileRefused(
                "bad_json", f"portal API item {n} lacks 'id' or 'updated_at' (the watermark keys)"
            )
    return items, bool(doc.get("has_more"))


def _check_progress(items: list[dict], mark: watermarks.Watermark | None) -> None:
    """Refuses a page that would not move the pull forward: an item not after the watermark
    (the page repeats, or the watermark would go backwards) or items out of order."""
    keys = [_order_key(i["updated_at"], i["id"]) for i in items]
    if mark is not None and keys[0] <= _order_key(mark.updated_at, mark.id):
        raise FileRefused(
            "watermark_not_advancing",
            f"item {printable(str(items[0]['id']))[:80]!r} (updated_at "
            f"{printable(str(items[0]['updated_at']))[:40]}) is not after the watermark "
            f"({printable(mark.updated_at)[:40]}, {printable(mark.id)[:80]!r}): the page repeats "
            "or goes backwards; the pull stops here (check the portal's updated_since filter)",
        )
    for n in range(1, len(keys)):
        if keys[n] <= keys[n - 1]:
            raise FileRefused(
                "watermark_not_advancing",
                f"items {n} and {n + 1} are not in (updated_at, id) order; the pull stops here",
            )


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
    pull_deadline = _Deadline(settings.portal_pull_seconds, "DTI_PORTAL_PULL_SECONDS")
    timeout = httpx.Timeout(options.timeout_s)
    with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        _pull_pages(client, con, settings, report, options, pull_deadline)


def _pull_pages(
    client: httpx.Client,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    report: IngestReport,
    options: ApiOptions,
    pull_deadline: _Deadline,
) -> None:
    mark = watermarks.get(con, SOURCE)
    for _ in range(settings.portal_max_pages):
        url = page_url(settings.portal_api_url, mark, options.page_size)
        page = fetch(client, url, settings.portal_api_token, options, settings, pull_deadline)
        name = url.split("://", 1)[-1].split("/", 1)[-1]
        stored = archive.store_bytes(settings.archive, page.body)
        try:
            if page.too_large:
                raise FileRefused(
                    "too_large",
                    f"the page is over the cap of {settings.portal_max_page_bytes:,} bytes "
                    f"(DTI_PORTAL_MAX_PAGE_BYTES); only {len(page.body):,} bytes were read and "
                    "kept. Ask the portal for smaller pages",
                )
            items, has_more = _parse_page(page.body)
            if items:
                _check_progress(items, mark)
        except FileRefused as refusal:
            report.add(commit_items(con, SOURCE, name, stored, None, None, refusal))
            raise PortalError(
                f"portal API page {_shown(url)} refused ({refusal.code}: {refusal.reason}); its "
                f"bytes are kept at {stored.stored_at}; the pull stops here and resumes from "
                "the watermark"
            ) from None
        if not items:
            return
        last = items[-1]
        new_mark = watermarks.Watermark(str(last["updated_at"]), str(last["id"]))
        report.add(commit_items(con, SOURCE, name, stored, items, new_mark))
        mark = new_mark
        if not has_more:
            return
    raise PortalError(
        f"portal API pull stopped after {settings.portal_max_pages:,} pages "
        "(DTI_PORTAL_MAX_PAGES) with more announced; what was pulled is committed and the next "
        "run goes on from the watermark"
    )
