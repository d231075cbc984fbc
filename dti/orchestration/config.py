"""Orchestration settings, read from the environment once (pipeline paths stay in dti.settings)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

DUCKDB_POOL = "dti_duckdb"
REDIS_CONN_ID = "dti_redis"
OWNER = "dti-data"
TAGS = ("dti",)


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class OrchestrationSettings:
    # The sweep pulls every configured source so an event lost while the triggerer was down
    # (or a portal submission nobody announced) is still loaded.
    sweep_cron: str = "*/15 * * * *"
    inbox_poll_seconds: float = 2.0
    redis_channel: str = "dti.submissions"
    redis_poll_seconds: float = 1.0
    publish_requires_approval: bool = False
    approval_timeout: timedelta = timedelta(days=2)
    retries: int = 2
    retry_delay: timedelta = timedelta(seconds=30)
    max_retry_delay: timedelta = timedelta(minutes=10)


def load_orchestration_settings() -> OrchestrationSettings:
    env = os.environ
    return OrchestrationSettings(
        sweep_cron=env.get("DTI_SWEEP_CRON") or OrchestrationSettings.sweep_cron,
        inbox_poll_seconds=float(env.get("DTI_INBOX_POLL_SECONDS") or 2.0),
        redis_channel=env.get("DTI_REDIS_CHANNEL") or OrchestrationSettings.redis_channel,
        redis_poll_seconds=float(env.get("DTI_REDIS_POLL_SECONDS") or 1.0),
        publish_requires_approval=_bool(env.get("DTI_PUBLISH_REQUIRES_APPROVAL"), False),
        approval_timeout=timedelta(hours=float(env.get("DTI_APPROVAL_TIMEOUT_HOURS") or 48)),
        retries=int(env.get("DTI_TASK_RETRIES") or 2),
        retry_delay=timedelta(seconds=float(env.get("DTI_RETRY_DELAY_SECONDS") or 30)),
        max_retry_delay=timedelta(minutes=float(env.get("DTI_MAX_RETRY_DELAY_MINUTES") or 10)),
    )


def default_args(orchestration: OrchestrationSettings) -> dict:
    """Task defaults of every DTI DAG: owner, retries with exponential backoff, callbacks."""
    from dti.orchestration.callbacks import on_task_failure, on_task_retry

    return {
        "owner": OWNER,
        "retries": orchestration.retries,
        "retry_delay": orchestration.retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": orchestration.max_retry_delay,
        "on_failure_callback": on_task_failure,
        "on_retry_callback": on_task_retry,
    }
