"""Triggers the Airflow triggerer runs to start ``dti_ingest`` the moment a submission is ready.

The triggerer imports these by class path (``orchestration.triggers.ReadyFlagTrigger``),
so this module must stay importable without the DAG files and without touching the warehouse.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from dti.vocabulary import READY_SUFFIX

log = logging.getLogger(__name__)

# name of a flag -> (mtime in ns, size): a flag re-touched by a sender counts as a new delivery.
Snapshot = dict[str, tuple[int, int]]


def scan_ready_flags(directory: Path, suffix: str = READY_SUFFIX) -> Snapshot:
    """Every ``*<suffix>`` flag directly inside ``directory``; an absent directory is empty."""
    flags: Snapshot = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return flags
    for entry in entries:
        if not entry.name.endswith(suffix) or entry.name.startswith("."):
            continue
        try:
            stat = entry.stat()
        except FileNotFoundError:  # removed between listing and stat
            continue
        if entry.is_file():
            flags[entry.name] = (stat.st_mtime_ns, stat.st_size)
    return flags


def new_flags(
    seen: Mapping[str, tuple[int, int]], current: Mapping[str, tuple[int, int]]
) -> list[str]:
    """Flags in ``current`` that ``seen`` does not hold with the same mtime and size, sorted."""
    return sorted(name for name, stamp in current.items() if seen.get(name) != stamp)


class ReadyFlagTrigger(BaseEventTrigger):
    """Fires once per new (or re-touched) ``*.ready`` flag in ``directory``; deletes nothing.

    Unlike ``FileDeleteTrigger``/``DirectoryFileDeleteTrigger`` (one fixed file name, deleted
    when seen) every sender keeps its own ``<file>.ready`` flag and the files stay where the
    ingest step expects them. The flags present when the trigger starts are its baseline: a flag
    written while no triggerer was running is not announced here but by the ``dti_ingest`` cron
    sweep, which re-scans the inbox; the ingest ledger makes either path load a file only once.

    Each event carries ``{"directory": ..., "flags": [...]}``; one scan that finds several new
    flags sends one event (one ingest run loads them all).
    """

    def __init__(
        self,
        *,
        directory: str,
        poll_interval: float = 2.0,
        suffix: str = READY_SUFFIX,
    ) -> None:
        super().__init__()
        self.directory = directory
        self.poll_interval = poll_interval
        self.suffix = suffix

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "directory": self.directory,
                "poll_interval": self.poll_interval,
                "suffix": self.suffix,
            },
        )

    async def _scan(self) -> Snapshot:
        return await asyncio.to_thread(scan_ready_flags, Path(self.directory), self.suffix)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        seen = await self._scan()
        log.info(
            "watching %s for *%s flags (%d already present, left to the sweep)",
            self.directory,
            self.suffix,
            len(seen),
        )
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                current = await self._scan()
            except OSError:
                # A transient listing error (NFS blip); the next scan sees the same flags.
                log.warning("could not list %s; retrying", self.directory, exc_info=True)
                continue
            fresh = new_flags(seen, current)
            # Forget flags that disappeared, so a flag dropped again later fires again.
            seen = current
            if fresh:
                log.info("new ready flags in %s: %s", self.directory, ", ".join(fresh))
                yield TriggerEvent({"directory": self.directory, "flags": fresh})


class PortalAnnouncementTrigger(BaseEventTrigger):
    """Fires on each message the portal publishes on a Redis pub/sub channel.

    The Redis provider's ``AwaitMessageTrigger`` does the listening; this class only defers its
    import to the triggerer. Built through the messaging provider's ``MessageQueueTrigger``,
    the watcher made every parse of ``dti_ingest`` load the queue providers and the async Redis
    client; built here, a parse creates a plain object that serializes its arguments.
    """

    def __init__(self, *, channels: list[str], redis_conn_id: str, poll_interval: float) -> None:
        super().__init__()
        self.channels = list(channels)
        self.redis_conn_id = redis_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "channels": self.channels,
                "redis_conn_id": self.redis_conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.providers.redis.triggers.redis_await_message import AwaitMessageTrigger

        listener = AwaitMessageTrigger(
            channels=self.channels,
            redis_conn_id=self.redis_conn_id,
            poll_interval=self.poll_interval,
        )
        async for event in listener.run():
            yield event
