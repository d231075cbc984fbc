"""Uploads a period's bundle to the DTI site (protocol: docs/publishing.md, "Publishing to the DTI site").

1. ``GET  <url>/<period>/<bundle_sha256>`` — 200 means the site already has this bundle:
   nothing is uploaded (idempotent by checksum).
2. ``PUT  <url>/<period>/<bundle_sha256>/files/<path>`` for every file the manifest lists,
   and its data package (``package``, ``datapackage.json``), with header ``X-DTI-SHA256``;
   the site keeps it aside, unpublished.
3. ``POST <url>/<period>/<bundle_sha256>/commit`` with manifest.json: the site checks it holds
   every file with the listed sha256 and switches the period to this bundle at once.

Every request carries ``Authorization: Bearer <token>`` and ``X-DTI-Release: <number>`` (the
release's number: the site refuses, with 409, a release older than the one it shows, so a stale
push replayed never switches it back); the token is never logged nor written into the bundle. 5xx answers, 429 and network errors are retried with backoff;
other 4xx stop the push with the site's message. A bundle whose manifest does not show
passing validation, or whose files differ from the manifest, is refused before any request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dti.checksums import sha256_file
from dti.settings import Settings
from publish.bundle import MANIFEST, bundle_checksum

log = logging.getLogger(__name__)

AIRFLOW_CONNECTION_ID = "dti_site"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# The scores checkpoint checks the very tables the bundle is written from.
REQUIRED_CHECKPOINTS = ("scores",)


class PushError(RuntimeError):
    """The push did not complete; the message says what to do next."""


class PushRefused(PushError):
    """The bundle must not be published (validation not passed, files changed, missing)."""


@dataclass(frozen=True)
class PushResult:
    period: int
    bundle_sha256: str
    status: str  # "published" or "already-published"
    files_uploaded: int
    retries: int
    url: str

    def as_dict(self) -> dict:
        return {
            "period": self.period,
            "bundle_sha256": self.bundle_sha256,
            "status": self.status,
            "files_uploaded": self.files_uploaded,
            "retries": self.retries,
            "url": self.url,
        }


def check_bundle(bundle_dir: Path) -> dict:
    """The manifest of a bundle fit to publish; raises ``PushRefused`` otherwise.

    Fit means: validation ran and every run succeeded, every listed file exists with its
    listed sha256, and the bundle checksum matches the files — what goes out is exactly
    what was validated.
    """
    manifest_path = bundle_dir / MANIFEST
    if not manifest_path.is_file():
        raise PushRefused(f"{manifest_path} is missing; build the bundle with `dti run` first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    release = manifest.get("release") or {}
    if release.get("status", "approved") != "approved":
        raise PushRefused(
            f"{bundle_dir} is release {release.get('number')} with status "
            f"{release.get('status')!r}: only an approved release is pushed "
            "(`dti release approve`)"
        )
    runs = manifest.get("validation_runs") or []
    failed = [r.get("suite") or r.get("checkpoint") for r in runs if r.get("success") is not True]
    if not runs or failed or not (manifest.get("validation") or {}).get("passed"):
        reason = f"failed suites: {', '.join(map(str, failed))}" if failed else "no validation run"
        raise PushRefused(
            f"the manifest of {bundle_dir} does not show passing validation ({reason}); "
            "fix the data and rebuild with `dti run` before publishing"
        )
    checkpoints = {r.get("checkpoint") for r in runs}
    missing = [c for c in REQUIRED_CHECKPOINTS if c not in checkpoints]
    if missing:
        raise PushRefused(
            f"the manifest of {bundle_dir} shows no validation of the {', '.join(missing)} "
            "checkpoint, which checks what is published; rebuild with `dti run`"
        )
    entries = []
    for item in manifest.get("files") or []:
        path = bundle_dir / item["path"]
        if not path.resolve().is_relative_to(bundle_dir.resolve()):
            raise PushRefused(f"manifest lists {item['path']!r} outside the bundle")
        if not path.is_file():
            raise PushRefused(f"{path} is listed in the manifest but missing; rebuild the bundle")
        actual = sha256_file(path)
        if actual != item["sha256"]:
            raise PushRefused(
                f"{path} changed after the bundle was validated (sha256 {actual} ≠ manifest "
                f"{item['sha256']}); rebuild with `dti run` instead of editing the bundle"
            )
        entries.append((item["path"], actual))
    if not entries or bundle_checksum(entries) != manifest.get("bundle_sha256"):
        raise PushRefused(f"the bundle checksum of {bundle_dir} does not match its files")
    package = manifest.get("package")
    if package is not None and (
        not (bundle_dir / package["path"]).is_file()
        or sha256_file(bundle_dir / package["path"]) != package["sha256"]
    ):
        raise PushRefused(
            f"{bundle_dir / package['path']} is missing or changed after the release was built; "
            "rebuild with `dti run` instead of editing the bundle"
        )
    return manifest


def resolve_token(settings: Settings) -> str:
    """``DTI_PUBLISH_TOKEN``, else the password of the Airflow connection ``dti_site``."""
    if settings.publish_token:
        return settings.publish_token
    try:
        from airflow.sdk import BaseHook  # type: ignore[attr-defined]
    except ImportError:
        try:
            from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
        except ImportError:
            BaseHook = None  # type: ignore[assignment,misc]  # noqa: N806
    if BaseHook is not None:
        try:
            password = BaseHook.get_connection(AIRFLOW_CONNECTION_ID).password
        except Exception as exc:  # no such connection, no Airflow database: both mean "unset"
            log.debug("no Airflow connection %s: %s", AIRFLOW_CONNECTION_ID, type(exc).__name__)
            password = None
        if password:
            return password
    raise PushError(
        "no token for the DTI site: set DTI_PUBLISH_TOKEN or the password of the Airflow "
        f"connection '{AIRFLOW_CONNECTION_ID}'"
    )


# The same rules as the portal API client (ingest/portal_api.py): no redirect is followed (a
# redirect would carry the token to wherever it points), an answer is read up to a cap, and
# every request has a total deadline whatever the server does (``timeout`` alone bounds one read).
_MAX_ANSWER_BYTES = 1024 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Every 3xx is raised as an HTTPError and refused by ``_Client.request``, without its
    Location being parsed first (``http://[::1/x`` would raise a bare ValueError there)."""

    def http_error_302(self, *args: object) -> None:
        return None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


_OPENER = urllib.request.build_opener(_NoRedirect)


def _open_once(req: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    with _OPENER.open(req, timeout=timeout) as response:
        return response.status, response.read(_MAX_ANSWER_BYTES)


def _within(seconds: float, call: Callable, *args: object) -> tuple[int, bytes]:
    """``call(*args)`` in a worker thread, given up after ``seconds`` (raised as a timeout)."""
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["result"] = call(*args)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="publish-request", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no complete answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


class _Client:
    def __init__(
        self,
        base_url: str,
        token: str,
        attempts: int,
        backoff_seconds: float,
        timeout: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.timeout = timeout
        self.sleep = sleep
        self.retries = 0

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        url = f"{self.base_url}/{urllib.parse.quote(path, safe='/')}"
        last_problem = ""
        for attempt in range(1, self.attempts + 1):
            req = urllib.request.Request(url, data=body, method=method)
            req.add_header("Authorization", f"Bearer {self._token}")
            for name, value in (headers or {}).items():
                req.add_header(name, value)
            try:
                return _within(self.timeout, _open_once, req, self.timeout)
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, exc.read(_MAX_ANSWER_BYTES)
                if 300 <= status < 400:
                    raise PushError(
                        f"{method} {url}: the site redirected (HTTP {status}) to "
                        f"{exc.headers.get('Location', '?')!r}; redirects are not followed (the "
                        "token goes to the configured site only): set DTI_PUBLISH_URL to the "
                        "final address"
                    ) from None
                if status not in RETRY_STATUSES:
                    return status, payload
                last_problem = f"HTTP {status}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last_problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            if attempt < self.attempts:
                self.retries += 1
                delay = self.backoff_seconds * (2 ** (attempt - 1))
                log.warning(
                    "%s %s failed (%s); retry %d of %d in %.1fs",
                    method,
                    url,
                    last_problem,
                    attempt,
                    self.attempts - 1,
                    delay,
                )
                self.sleep(delay)
        raise PushError(
            f"{method} {url} failed {self.attempts} times ({last_problem}); the site may be "
            "down — run `dti publish` again later, files already sent are kept by checksum"
        )


def _message(payload: bytes) -> str:
    return " ".join(payload.decode("utf-8", "replace").split())[:300]


def push_bundle(
    settings: Settings,
    period: int,
    url: str | None = None,
    token: str | None = None,
    attempts: int = 5,
    backoff_seconds: float = 1.0,
    timeout: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> PushResult:
    """Uploads ``OUT/<period>/`` to the DTI site; safe to run again after any failure."""
    base_url = url or settings.publish_url
    if not base_url:
        raise PushError("no DTI site URL: pass --to URL or set DTI_PUBLISH_URL")
    bundle_dir = settings.out / str(period)
    manifest = check_bundle(bundle_dir)
    bundle_sha = manifest["bundle_sha256"]
    number = (manifest.get("release") or {}).get("number")
    carried = {"X-DTI-Release": str(number)} if type(number) is int else {}
    client = _Client(
        base_url, token or resolve_token(settings), attempts, backoff_seconds, timeout, sleep
    )
    prefix = f"{period}/{bundle_sha}"

    def result(status: str, uploaded: int) -> PushResult:
        return PushResult(period, bundle_sha, status, uploaded, client.retries, client.base_url)

    def refuse_older(what: str, status: int, payload: bytes) -> None:
        if status == 409 and b"live_release" in payload:
            raise PushRefused(
                f"{what}: the DTI site shows a newer release of period {period} than release "
                f"{number} ({_message(payload)}); an older release never replaces a newer one. "
                f"To go back, run `dti release rollback --period {period} --to {number}` and "
                "publish the new release it makes"
            )

    status, payload = client.request("GET", prefix, headers=carried)
    if status == 200:
        log.info("the DTI site already has bundle %s of period %s", bundle_sha, period)
        return result("already-published", 0)
    refuse_older("GET", status, payload)
    if status != 404:
        raise PushError(f"GET {prefix}: HTTP {status} {_message(payload)}")

    uploaded = 0
    # the data package (results.md §8.5) goes with the files it describes, before the commit
    package = [manifest["package"]] if manifest.get("package") else []
    for item in [*manifest["files"], *package]:
        data = (bundle_dir / item["path"]).read_bytes()
        status, payload = client.request(
            "PUT",
            f"{prefix}/files/{item['path']}",
            body=data,
            headers={
                "X-DTI-SHA256": item["sha256"],
                "Content-Type": "application/octet-stream",
                **carried,
            },
        )
        refuse_older(f"PUT {item['path']}", status, payload)
        if status not in (200, 201, 204):
            raise PushError(f"PUT {item['path']}: HTTP {status} {_message(payload)}")
        uploaded += 1
    manifest_bytes = (bundle_dir / MANIFEST).read_bytes()
    status, payload = client.request(
        "POST",
        f"{prefix}/commit",
        body=manifest_bytes,
        headers={"Content-Type": "application/json", **carried},
    )
    refuse_older("POST commit", status, payload)
    if status not in (200, 201):
        raise PushError(f"POST commit: HTTP {status} {_message(payload)}")
    log.info(
        "published bundle %s of period %s to %s (%d files, %d retries)",
        bundle_sha,
        period,
        client.base_url,
        uploaded,
        client.retries,
    )
    return result("published", uploaded)
