"""The assets that chain the DTI DAGs, and the watchers that turn submissions into asset events.

``dti_ingest`` runs on ``INBOX`` or ``PORTAL_ANNOUNCEMENTS`` events (or its cron sweep) and emits
``RAW``; ``dti_transform`` runs on ``RAW`` and emits ``MARTS``; ``dti_publish`` runs on ``MARTS``
and emits ``BUNDLE``. Building these objects is cheap (no I/O), so DAG files may call the
functions at parse time.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from dti.settings import OrchestrationSettings, Settings
from orchestration.config import REDIS_CONN_ID
from orchestration.triggers import PortalAnnouncementTrigger, ReadyFlagTrigger

GROUP = "dti"

# Event carries {"periods": [...], "batches": [{batch_sha256, source, source_file, ...}], ...}.
RAW = Asset(name="dti_raw_submissions", uri="dti://warehouse/raw/submission_rows", group=GROUP)
# Event carries {"periods": [...], "validation_runs": {"<period>": [run manifest, ...]}}.
MARTS = Asset(name="dti_marts_validated", uri="dti://warehouse/marts", group=GROUP)
# Event carries {"period": ..., "bundle_dir": ...}.
BUNDLE = Asset(name="dti_bundle", uri="dti://out/bundle", group=GROUP)

INBOX_NAME = "dti_inbox_ready_flags"
PORTAL_NAME = "dti_portal_announcements"


def inbox_asset(settings: Settings, orchestration: OrchestrationSettings) -> Asset:
    """The inbox, watched for new ``*.ready`` flags (nothing is deleted)."""
    return Asset(
        name=INBOX_NAME,
        uri="dti://inbox/ready-flags",
        group=GROUP,
        watchers=[
            AssetWatcher(
                name="dti_inbox_ready_flags_watcher",
                trigger=ReadyFlagTrigger(
                    directory=str(settings.inbox),
                    poll_interval=orchestration.inbox_poll_seconds,
                ),
            )
        ],
    )


def portal_announcements_asset(orchestration: OrchestrationSettings) -> Asset:
    """The Redis pub/sub channel where the portal announces new submissions."""
    return Asset(
        name=PORTAL_NAME,
        uri="dti://portal/announcements",
        group=GROUP,
        watchers=[
            AssetWatcher(
                name="dti_portal_announcements_watcher",
                trigger=PortalAnnouncementTrigger(
                    channels=[orchestration.redis_channel],
                    redis_conn_id=REDIS_CONN_ID,
                    poll_interval=orchestration.redis_poll_seconds,
                ),
            )
        ],
    )
