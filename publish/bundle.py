"""Writes the next release of one period (docs/spec/results.md §8).

``write_bundle`` reads the marts once, renders in memory every file whose inputs changed
(``publish.incremental``), writes them and the manifest into a staging folder beside the
current release, and switches the new release in with one rename (``publish.releases``): a
kill or a full disk at any point leaves the current release live and whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dti
from dti.codes import file_part
from dti.settings import PROJECT_ROOT, Settings
from publish import (
    answers,
    citations,
    datapackage,
    incremental,
    methodology,
    registry_rows,
    releases,
    site,
    statistical_audit,
)
from publish.jsontext import dumps
from publish.map import map_page_name
from publish.marts import IndicatorPoints, MartsReader, PeriodMarts
from publish.results import block_inputs as results_block_inputs
from publish.results import framework_version, results_csv, results_json
from publish.spreadsheet import results_xlsx

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# What an auditor reads beside the results: the dbt docs are kept in the release, listed
# under the manifest's ``audit``, outside ``files`` — not part of ``bundle_sha256`` (dbt
# stamps its documentation with the time it was generated, so the same results would
# otherwise make a new release) and not pushed to the DTI site. The statistical audit in the
# same folder (``publish.statistical_audit``) is a published file like the others.
AUDIT = "audit"
MODEL_DOCS = f"{AUDIT}/dbt_docs.html"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_checksum(files: Iterable[tuple[str, str]]) -> str:
    """The bundle's identity: sha256 over ``<sha256>  <path>`` lines, sorted by path.

    The manifest is not part of it (it holds the build time), so rebuilding the same results
    gives the same checksum and the push can tell the DTI site already has them.
    """
    lines = "".join(f"{sha}  {path}\n" for path, sha in sorted(files))
    return sha256_bytes(lines.encode("utf-8"))


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


# Where a validation run left its GX result and Data Docs page on the machine that ran it: a
# published file names no path of that machine (the warehouse's audit.validation_runs keeps
# them, and `dti audit` reads them from there).
MACHINE_PATH_FIELDS = ("report_path", "validation_result_path")


def _run_manifest(run: object) -> dict:
    if isinstance(run, dict):
        entry = dict(run)
    else:
        to_manifest = getattr(run, "to_manifest", None)
        if to_manifest is None:
            raise TypeError(f"validation run {run!r} has no to_manifest()")
        entry = dict(to_manifest())
    for name in MACHINE_PATH_FIELDS:
        entry.pop(name, None)
    return entry


def validation_outcome(runs: Sequence[dict]) -> dict:
    """Passed only when at least one suite ran and every run succeeded."""
    failed = [
        r.get("suite") or r.get("checkpoint") or r.get("run_id")
        for r in runs
        if not r.get("success")
    ]
    return {
        "passed": bool(runs) and not failed,
        "runs": len(runs),
        "failed": failed,
        "checkpoints": sorted(
            {str(r["checkpoint"]) for r in runs if r.get("checkpoint") is not None}
        ),
    }


def render_files(
    marts: PeriodMarts,
    indicators: Mapping[str, Sequence[IndicatorPoints]],
    pages: Mapping[str, site.UnitPage] | None = None,
    only: Collection[str] | None = None,
    publication: str = "final",
    answer_blocks: Collection[str] | None = None,
    kept: Collection[str] = frozenset(),
) -> dict[str, bytes]:
    """The files of the bundle except the manifest, by path relative to the bundle: all of
    them, or all but the unit pages not in ``only``, the answers files of the blocks not in
    ``answer_blocks`` and the other files in ``kept`` (``file_fingerprints``)."""
    files: dict[str, bytes] = {"results.json": results_json(marts)}
    files.update(
        answers.render_answers(
            marts, indicators, marts.blocks if answer_blocks is None else sorted(answer_blocks)
        )
    )
    for block in marts.blocks:
        csv_path, xlsx_path = results_paths(block)
        if csv_path not in kept:
            files[csv_path] = results_csv(marts, block)
        if xlsx_path not in kept:
            files[xlsx_path] = results_xlsx(marts, block)
    if methodology.PAGE not in kept:
        files[methodology.PAGE] = methodology.render_methodology(marts, publication).encode("utf-8")
    files.update(
        site.render_site(
            marts,
            indicators,
            pages=pages,
            only=only,
            publication=publication,
            kept=kept,
        )
    )
    return files


def results_paths(block: str) -> tuple[str, str]:
    name = file_part(block)
    return f"results_{name}.csv", f"results_{name}.xlsx"


def file_fingerprints(
    marts: PeriodMarts, publication: str, page_fingerprints: Mapping[str, str]
) -> dict[str, str]:
    """The fingerprints of the files other than the unit pages and the answers files that a
    release can keep from the latest one: a block's results files and map page, and the
    methodology page. The index, the stylesheet and ``results.json`` are not among them.
    ``page_fingerprints``: the unit pages' (``incremental.fingerprint``), by path."""
    fingerprints = {}
    for block in marts.blocks:
        units = incremental.units_fingerprint(
            page_fingerprints[f"{site.UNIT_DIR}/{site.unit_page_name(u.unit_code)}"]
            for u in marts.block_units(block)
        )
        block_inputs = results_block_inputs(marts, block)
        for path in results_paths(block):
            fingerprints[path] = incremental.file_fingerprint(path, units, block_inputs)
        if block in site.mapped_blocks(marts):
            path = map_page_name(block)
            fingerprints[path] = incremental.file_fingerprint(
                path, units, site.map_inputs(marts, block)
            )
    fingerprints[methodology.PAGE] = incremental.file_fingerprint(
        methodology.PAGE, "", methodology.inputs(marts, publication)
    )
    return fingerprints


class _BundleWriter:
    """Writes the files of a new release into its empty staging folder.

    Each path is new, so it is created in place (``x``: never over a file left behind); every
    error names the path (``releases.PublishError``).
    """

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self._folders: set[Path] = set()

    def _folder(self, path: Path) -> None:
        if path.parent not in self._folders:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise releases.PublishError(f"cannot create {path.parent}: {exc}") from exc
            self._folders.add(path.parent)

    def write(self, relative: str, data: bytes) -> None:
        path = self.staging / relative
        self._folder(path)
        releases.write_new_file(path, data)

    def link(self, relative: str, source: Path) -> None:
        """The same bytes as ``source`` (a file of an earlier release), without copying."""
        path = self.staging / relative
        self._folder(path)
        try:
            os.link(source, path)
        except OSError:  # a file system without hard links
            releases.write_new_file(path, source.read_bytes())


def build_manifest(
    marts: PeriodMarts,
    files: Mapping[str, tuple[str, int]],
    runs: Sequence[dict],
    release: dict,
    changes: list[dict],
    built_at: datetime,
) -> dict:
    """``files``: every file of the bundle but the manifest, as ``path: (sha256, size)``."""
    entries = [(path, sha) for path, (sha, _) in sorted(files.items())]
    return {
        "period": marts.period,
        "bundle_sha256": bundle_checksum(entries),
        "built_at": built_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "framework_version": framework_version(marts),
        "frameworks": [
            {"block": block, "framework_version": fw.framework_version}
            for block in marts.blocks
            if (fw := marts.framework(block)) is not None
        ],
        # labels and order of the levels (marts.dim_levels), lowest first: what the summary
        # of `dti run`, which reads this bundle, names the levels with
        "levels": [
            {"level": level, "level_name": marts.level_names[level], "sort_order": rank}
            for rank, level in enumerate(reversed(marts.level_order), start=1)
        ],
        "code_version": {"dti": dti.__version__, "git_commit": git_commit()},
        "validation": validation_outcome(runs),
        "validation_runs": list(runs),
        "inputs": [
            {
                "source_file": i.source_file,
                "sha256": i.sha256,
                "source": i.source,
                "size_bytes": i.size_bytes,
                "received_at": i.received_at,
                "outcome": i.outcome,
                "rows_loaded": i.rows_loaded,
            }
            for i in marts.inputs
        ],
        "release": release,
        "changes": changes,
        "files": [
            {"path": path, "sha256": sha, "size_bytes": files[path][1]} for path, sha in entries
        ],
    }


def _files_intact(release: releases.Release) -> bool:
    """Every file the release's manifest lists is there with its sha256."""
    for item in release.manifest.get("files") or []:
        try:
            data = (release.path / item["path"]).read_bytes()
        except (OSError, KeyError, TypeError):
            return False
        if sha256_bytes(data) != item.get("sha256"):
            return False
    return True


def _same_bytes(path: Path, sha256: str) -> bool:
    try:
        return sha256_bytes(path.read_bytes()) == sha256
    except OSError:
        return False


def _write_audit(
    writer: _BundleWriter, model_docs: Path | None, latest: releases.Release | None
) -> list[dict]:
    """Copies the audit material into the release, or hard-links the latest release's copy
    when it holds the same bytes (the dbt documentation is megabytes, and the same while the
    models are); returns the manifest's ``audit`` list."""
    if model_docs is None:
        return []
    try:
        data = model_docs.read_bytes()
    except OSError as exc:
        raise releases.PublishError(
            f"cannot read the dbt documentation {model_docs}: {exc}"
        ) from exc
    sha256 = sha256_bytes(data)
    if latest is not None and _same_bytes(latest.path / MODEL_DOCS, sha256):
        writer.link(MODEL_DOCS, latest.path / MODEL_DOCS)
    else:
        writer.write(MODEL_DOCS, data)
    return [
        {
            "path": MODEL_DOCS,
            "what": "dbt docs of the models that computed this release (dbt docs generate --static)",
            "sha256": sha256,
            "size_bytes": len(data),
        }
    ]


def _statistics_files(settings: Settings, marts: PeriodMarts, publication: str) -> dict[str, bytes]:
    """``audit/thong-ke.html`` and ``.json`` (``publish.statistical_audit``); none from a
    warehouse built before the audit marts existed."""
    audit = marts.statistical_audit
    if audit is None:
        log.warning(
            "period %s: the warehouse has no audit marts: no statistical audit", marts.period
        )
        return {}
    thresholds = statistical_audit.Thresholds(
        weak_correlation=Decimal(str(settings.audit_weak_correlation)),
        extreme_share_pct=Decimal(str(settings.audit_extreme_share_pct)),
        min_alpha=Decimal(str(settings.audit_min_alpha)),
    )
    pillar_names = {
        (unit.block, p.pillar_code): p.pillar_name for unit in marts.units for p in unit.pillars
    }
    document = statistical_audit.audit_document(marts.period, audit, thresholds, pillar_names)
    blocks = audit.blocks()
    return statistical_audit.render_files(
        document,
        {b: site.block_name(b) for b in blocks},
        {b: site.block_anchor(b) for b in blocks},
        publication,
    )


def _write_package(
    writer: _BundleWriter,
    settings: Settings,
    marts: PeriodMarts,
    entries: Mapping[str, tuple[str, int]],
    registry: Sequence[registry_rows.RegistryTable],
    release: dict,
    manifest: dict,
) -> dict:
    """Writes ``datapackage.json`` (``publish.datapackage``) into the release; returns the
    manifest's ``package`` entry. The CSVs' headers are read from the release as written
    (a kept file is a link to the latest release's)."""
    headers = {}
    for path in entries:
        if path.endswith(".csv"):
            with open(writer.staging / path, "rb") as handle:
                headers[path] = datapackage.csv_header(handle.readline())
    package = datapackage.build_package(
        period=marts.period,
        framework_version=manifest["framework_version"],
        files=entries,
        headers=headers,
        registry=registry,
        release=release,
        bundle_sha256=manifest["bundle_sha256"],
        license_id=settings.data_license,
        inputs=manifest["inputs"],
    )
    data = dumps(package).encode("utf-8")
    writer.write(datapackage.PACKAGE, data)
    return {"path": datapackage.PACKAGE, "sha256": sha256_bytes(data), "size_bytes": len(data)}


def registry_in_warehouse(settings: Settings) -> dict:
    """The registry the marts were built from (``meta.registry_files``, written when the
    registry is loaded): each file's name, sha256 and size. Not its folder, a path of the
    machine that built the release (``meta.registry_files`` keeps it)."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        try:
            rows = con.execute(
                "select file, sha256, size_bytes from meta.registry_files order by file"
            ).fetchall()
        except duckdb.CatalogException:
            rows = []
    finally:
        con.close()
    return {"files": [{"file": f, "sha256": sha, "size_bytes": size} for f, sha, size in rows]}


def write_bundle(
    settings: Settings,
    period: int,
    validation_runs: Sequence[object] = (),
    built_at: datetime | None = None,
    *,
    approval_required: bool | None = None,
    publication: str = releases.FINAL,
    model_docs: Path | None = None,
) -> Path:
    """Builds the next release of ``period`` beside the current one and returns its folder.

    The release is written into a staging folder, renamed to ``OUT/.releases/<period>/<n>/``
    when complete, and switched in (``OUT/<period>`` points at it) at once — or left as a
    draft when approval is required (``settings.publish_requires_approval`` unless
    ``approval_required`` is given; ``dti release approve`` switches it in). Returns
    ``OUT/<period>`` for a current release, the draft's folder for a draft. Results equal to
    the latest release's files make no new release.

    Unit pages, and the per-block and methodology files, whose inputs did not change since
    the latest release are hard links to its files (``publish.incremental``); the result is
    the same bytes as a full render.

    ``model_docs``, dbt's documentation of the models (one HTML page), is copied into the new
    release as ``audit/dbt_docs.html`` (a hard link to the latest release's when the bytes are
    the same) and listed under the manifest's ``audit``.
    """
    if publication not in releases.PUBLICATIONS:
        raise ValueError(
            f"publication {publication!r}: expected one of {', '.join(releases.PUBLICATIONS)}"
        )
    if approval_required is None:
        approval_required = settings.publish_requires_approval
    store = releases.ReleaseStore(settings.out, period)
    with store.lock():
        return _write_release(
            settings,
            period,
            store,
            validation_runs,
            built_at,
            approval_required,
            publication,
            model_docs,
        )


def _write_release(
    settings: Settings,
    period: int,
    store: releases.ReleaseStore,
    validation_runs: Sequence[object],
    built_at: datetime | None,
    approval_required: bool,
    publication: str,
    model_docs: Path | None,
) -> Path:
    store.recover()
    numbers = store.numbers()
    latest = store.release(numbers[-1]) if numbers else None
    with MartsReader(settings.warehouse, period) as reader:
        marts = reader.read()
        pages = site.unit_pages(marts, publication=publication)
        fingerprints = {path: incremental.fingerprint(page) for path, page in pages.items()}
        others = file_fingerprints(marts, publication, fingerprints)
        # the answers files of a block are kept like a page while none of its units changed
        fingerprints.update(
            {
                path: answers.fingerprint(marts, block, incremental.RENDERER_VERSION)
                for block in marts.blocks
                for path in answers.answers_paths(block)
            }
        )
        fingerprints.update(others)
        reused = (
            incremental.reusable_pages(settings.work_dir, period, latest.path, fingerprints)
            if latest is not None
            else {}
        )
        to_render = {path for path in pages if path not in reused}
        answer_blocks = {
            block
            for block in marts.blocks
            if any(path not in reused for path in answers.answers_paths(block))
        }
        needed = {pages[path].unit.unit_code for path in to_render} | {
            unit.unit_code for block in answer_blocks for unit in marts.block_units(block)
        }
        indicators = reader.indicators(needed if reused else None)
        registry = reader.registry()
    files = render_files(
        marts,
        indicators,
        pages=pages,
        only=to_render,
        publication=publication,
        answer_blocks=answer_blocks,
        kept={path for path in others if path in reused},
    )
    # what an outsider recomputes the release from (results.md §8.5): small, rendered each time
    files.update(registry_rows.registry_files(registry, datapackage.REGISTRY_DIR))
    files.update(datapackage.schema_files())
    files.update(_statistics_files(settings, marts, publication))
    runs = [_run_manifest(r) for r in validation_runs]
    entries: dict[str, tuple[str, int]] = {
        path: (sha256_bytes(data), len(data)) for path, data in files.items()
    }
    entries.update({path: (page.sha256, page.size_bytes) for path, page in reused.items()})
    checksum = bundle_checksum([(path, sha) for path, (sha, _) in entries.items()])
    if (
        latest is not None
        and latest.manifest.get("bundle_sha256") == checksum
        and _files_intact(latest)
    ):
        log.info(
            "period %s: %d unit pages rendered, %d files kept: release %s (%s) already holds these "
            "files, no new release",
            period,
            len(to_render),
            len(reused),
            latest.number,
            latest.status,
        )
        return store.live if latest.status == releases.APPROVED else latest.path

    current = store.current()
    number = store.next_number()
    new_results = json.loads(files["results.json"], parse_float=Decimal, parse_int=Decimal)
    # the unit pages as this release holds them, to tell the approver which pages change
    # although their unit's results do not (``releases.pages_between``)
    unit_pages = {page.unit.unit_code: (path, entries[path][0]) for path, page in pages.items()}
    changes, pages_changed = releases.changes_since(current, new_results, unit_pages)
    # why each of those numbers moved: the complaint and decision, or the appraisal, behind it
    cited = (
        citations.answer_changes(settings.warehouse, period, current.path, marts.blocks, changes)
        if current is not None
        else []
    )
    built = built_at or datetime.now(UTC)
    release = {
        "number": number,
        "previous_release": current.number if current else None,
        "status": releases.DRAFT if approval_required else releases.APPROVED,
        "publication": publication,
        "approval_required": approval_required,
    }
    staging = store.new_staging()
    try:
        writer = _BundleWriter(staging)
        for i, (path, data) in enumerate(sorted(files.items())):
            writer.write(path, data)
            if i == len(files) // 2:
                releases.kill_point("half-written")
        for path in sorted(reused):
            writer.link(path, latest.path / path)  # type: ignore[union-attr]
        store.link_history(staging, number)
        manifest = build_manifest(marts, entries, runs, release, changes, built)
        manifest["pages_changed"] = pages_changed
        manifest["answer_changes"] = cited
        manifest["unexplained_changes"] = len(citations.unexplained(cited))
        manifest["registry"] = registry_in_warehouse(settings)
        manifest[AUDIT] = _write_audit(writer, model_docs, latest)
        manifest["package"] = _write_package(
            writer, settings, marts, entries, registry, release, manifest
        )
        writer.write(MANIFEST, dumps(manifest).encode("utf-8"))
        releases.kill_point("manifest-written")
    except BaseException:
        store.discard(staging)
        raise
    committed = store.commit(staging, number)
    if not approval_required:
        store.switch_to(number)
        releases.kill_point("switched")
    incremental.save_store(
        settings.work_dir,
        period,
        committed.path,
        manifest["bundle_sha256"],
        fingerprints,
        {path: entries[path][0] for path in fingerprints},
    )
    log.info(
        "period %s: release %s written to %s (%d files, %d unit pages rendered, %d files kept; %s, "
        "validation %s)",
        period,
        number,
        committed.path,
        len(entries) + 1,
        len(to_render),
        len(reused),
        "current" if not approval_required else "draft waiting for approval",
        "passed" if manifest["validation"]["passed"] else "NOT passed",
    )
    return store.live if not approval_required else committed.path
