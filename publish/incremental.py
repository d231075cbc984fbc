"""Which files must be rendered again, and which can be kept from the previous bundle.

A unit page is a function of its ``site.UnitPage`` (the unit's scores, pillars, rank, the
block's medians, last period's result…), of its indicator rows (``UnitScore.indicator_digest``,
an md5 computed in DuckDB) and of the code that renders it. Its *fingerprint* is a sha256
over all three. After each bundle is written, the fingerprint, sha256, size and file identity
of every unit page are stored in ``<warehouse>_work/publish/<period>.pages.json`` together
with the bundle's ``bundle_sha256``.

The files of one block (``results_<block>.csv``/``.xlsx``, the block's map page, its
answers files) and the methodology page are kept the same way, each fingerprinted over the
inputs its renderer reads (``file_fingerprint``). The index and ``results.json`` show every
unit and are always rendered.

The next release of the period renders only the files whose fingerprint changed and
hard-links the others from the latest release (``OUT/.releases/<period>/<n>/``, draft or
current). Any doubt gives a full render: no store, a store that cannot be read, another
renderer (any file of ``publish/`` changed, or DuckDB, Python's Unicode tables or
``dti.__version__``), a release whose manifest is not the one the store describes, or a page
file that is not the file written then (size, inode or mtime differ).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

import dti
from publish.site import UnitPage

log = logging.getLogger(__name__)

STORE_FORMAT = 1
MANIFEST = "manifest.json"


def _renderer_version() -> str:
    """Every source file of ``publish/`` (and of ``dti`` that it renders with) and the versions whose behaviour a page depends on."""
    digest = hashlib.sha256()
    for value in (
        dti.__version__,
        duckdb.__version__,
        unicodedata.unidata_version,
        sys.version,
    ):
        digest.update(f"{value}\n".encode())
    ground = Path(dti.__file__).parent  # the text filter and the code grammar shape pages too
    for source in [
        *sorted(Path(__file__).parent.glob("*.py")),
        ground / "text.py",
        ground / "codes.py",
    ]:
        digest.update(f"{source.name}\n".encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


RENDERER_VERSION = _renderer_version()


def fingerprint(page: UnitPage) -> str:
    """sha256 of everything the page shows, and of the code that draws it.

    A dataclass's repr names every field (none is ``repr=False``), with exact decimals
    (``Decimal('96.95')``), so equal reprs mean equal inputs.
    """
    text = f"{RENDERER_VERSION}\n{page!r}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def units_fingerprint(page_fingerprints: Iterable[str]) -> str:
    """Stands for a block's units, whole and in order, in ``file_fingerprint``: each unit
    page's fingerprint covers its unit whole (and more, which only errs towards rendering),
    and costs nothing more, where a repr of thousands of units again would."""
    return hashlib.sha256("\n".join(page_fingerprints).encode("ascii")).hexdigest()


def file_fingerprint(path: str, units: str, inputs: tuple) -> str:
    """sha256 of a non-unit file's inputs, and of the code that draws it: ``units``
    (``units_fingerprint`` of the units it shows, or ``""``) and the rest of what its
    renderer reads, as the renderer's module lists it. Like ``fingerprint``, it relies on
    exact reprs: dataclasses, tuples, dicts and decimals."""
    text = f"{RENDERER_VERSION}\n{path}\n{units}\n{inputs!r}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredPage:
    """A unit page as written: its fingerprint, sha256, size and file identity."""

    fingerprint: str
    sha256: str
    size_bytes: int
    inode: int
    mtime_ns: int


def store_path(work_dir: Path, period: int) -> Path:
    return work_dir / "publish" / f"{period}.pages.json"


def _read_store(path: Path, period: int, bundle_dir: Path) -> dict[str, StoredPage] | None:
    """The stored pages, if the store describes the bundle now in ``bundle_dir``."""
    if not path.is_file():
        log.info("no page store at %s: every page is rendered", path)
        return None
    try:
        store = json.loads(path.read_text(encoding="utf-8"))
        manifest = json.loads((bundle_dir / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(store, dict) or not isinstance(manifest, dict):
            raise TypeError("not a JSON object")
        if store.get("format") != STORE_FORMAT or store.get("period") != period:
            log.info("page store %s is of another format or period: full render", path)
            return None
        if store.get("renderer") != RENDERER_VERSION:
            log.info("the renderer changed since the last bundle: every page is rendered")
            return None
        if manifest.get("bundle_sha256") != store.get("bundle_sha256"):
            log.info("the bundle in %s is not the one the page store describes", bundle_dir)
            return None
        in_manifest = {f["path"]: f["sha256"] for f in manifest["files"]}
        pages = {p: StoredPage(*entry) for p, entry in store["pages"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("page store %s unusable (%s): every page is rendered", path, exc)
        return None
    return {p: s for p, s in pages.items() if in_manifest.get(p) == s.sha256}


def reusable_pages(
    work_dir: Path, period: int, bundle_dir: Path, fingerprints: Mapping[str, str]
) -> dict[str, StoredPage]:
    """The pages of the bundle in ``bundle_dir`` that are exactly what rendering would give."""
    stored = _read_store(store_path(work_dir, period), period, bundle_dir)
    if not stored:
        return {}
    reusable = {}
    for path, fp in fingerprints.items():
        page = stored.get(path)
        if page is None or page.fingerprint != fp:
            continue
        try:
            st = os.stat(bundle_dir / path)
        except OSError:
            continue
        if (st.st_size, st.st_ino, st.st_mtime_ns) == (page.size_bytes, page.inode, page.mtime_ns):
            reusable[path] = page
    return reusable


def save_store(
    work_dir: Path,
    period: int,
    bundle_dir: Path,
    bundle_sha256: str,
    fingerprints: Mapping[str, str],
    sha256s: Mapping[str, str],
) -> None:
    """Records the unit pages just written into ``bundle_dir``."""
    pages = {}
    for path, fp in sorted(fingerprints.items()):
        st = os.stat(bundle_dir / path)
        pages[path] = [fp, sha256s[path], st.st_size, st.st_ino, st.st_mtime_ns]
    document = {
        "format": STORE_FORMAT,
        "period": period,
        "renderer": RENDERER_VERSION,
        "bundle_sha256": bundle_sha256,
        "pages": pages,
    }
    path = store_path(work_dir, period)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
