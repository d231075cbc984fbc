"""The inbox watcher: fires for each new or re-touched ``*.ready`` flag, deletes nothing."""

from __future__ import annotations

import asyncio
import importlib
import os
from pathlib import Path

import pytest

from orchestration.triggers import ReadyFlagTrigger, new_flags, scan_ready_flags


def _touch(path: Path, mtime_ns: int | None = None) -> None:
    path.write_bytes(b"")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


async def _next_event(gen, timeout: float = 3.0):
    return await asyncio.wait_for(gen.__anext__(), timeout)


def test_scan_lists_only_ready_flags(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    _touch(tmp_path / "a.csv.ready")
    _touch(tmp_path / ".hidden.ready")
    (tmp_path / "sub.ready").mkdir()
    assert set(scan_ready_flags(tmp_path)) == {"a.csv.ready"}
    assert scan_ready_flags(tmp_path / "missing") == {}


def test_new_flags_compares_mtime_and_size() -> None:
    seen = {"a.ready": (1, 0), "b.ready": (1, 0)}
    current = {"a.ready": (1, 0), "b.ready": (2, 0), "c.ready": (1, 0)}
    assert new_flags(seen, current) == ["b.ready", "c.ready"]


def test_fires_for_new_flags_only_and_deletes_nothing(tmp_path: Path) -> None:
    _touch(tmp_path / "old.csv.ready")

    async def scenario() -> list[dict]:
        trigger = ReadyFlagTrigger(directory=str(tmp_path), poll_interval=0.05)
        gen = trigger.run()
        events = []
        first = asyncio.ensure_future(_next_event(gen))
        await asyncio.sleep(0.2)  # the baseline scan has run; old.csv.ready is in it
        assert not first.done()
        (tmp_path / "new.csv").write_text("x")
        _touch(tmp_path / "new.csv.ready")
        events.append((await first).payload)
        # Re-touching a flag (a corrected file sent again) is a new delivery.
        _touch(
            tmp_path / "new.csv.ready",
            mtime_ns=(os.stat(tmp_path / "new.csv.ready").st_mtime_ns + 10**9),
        )
        events.append((await _next_event(gen)).payload)
        # Nothing new: no event within a few polls.
        with pytest.raises(TimeoutError):
            await _next_event(gen, timeout=0.3)
        await gen.aclose()
        return events

    events = asyncio.run(scenario())
    assert events == [
        {"directory": str(tmp_path), "flags": ["new.csv.ready"]},
        {"directory": str(tmp_path), "flags": ["new.csv.ready"]},
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "new.csv",
        "new.csv.ready",
        "old.csv.ready",
    ]


def test_flag_removed_and_dropped_again_fires_again(tmp_path: Path) -> None:
    async def scenario() -> list[dict]:
        trigger = ReadyFlagTrigger(directory=str(tmp_path), poll_interval=0.05)
        events: asyncio.Queue = asyncio.Queue()

        async def consume() -> None:  # the triggerer iterates the trigger continuously
            async for event in trigger.run():
                await events.put(event.payload)

        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0.15)
        _touch(tmp_path / "a.ready", mtime_ns=10**18)
        first = await asyncio.wait_for(events.get(), 3)
        (tmp_path / "a.ready").unlink()
        await asyncio.sleep(0.3)
        _touch(tmp_path / "a.ready", mtime_ns=10**18)  # same stamp as before, but it went away
        second = await asyncio.wait_for(events.get(), 3)
        consumer.cancel()
        return [first, second]

    assert [e["flags"] for e in asyncio.run(scenario())] == [["a.ready"], ["a.ready"]]


def test_serialises_to_an_importable_classpath(tmp_path: Path) -> None:
    from airflow.triggers.base import BaseEventTrigger

    trigger = ReadyFlagTrigger(directory=str(tmp_path), poll_interval=1.5)
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert classpath == "orchestration.triggers.ReadyFlagTrigger"
    # The triggerer identifies a watcher by this hash: the same config must give the same trigger.
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*rebuilt.serialize())


def test_the_portal_watcher_hands_on_what_the_redis_trigger_hears(monkeypatch) -> None:
    """The triggerer rebuilds the trigger from its serialized form; its run is the Redis
    provider's, with the same channels, connection and poll interval."""
    from airflow.providers.redis.triggers import redis_await_message
    from airflow.triggers.base import TriggerEvent

    from orchestration.triggers import PortalAnnouncementTrigger

    heard: list[dict] = []

    async def run(self):
        heard.append(self.serialize()[1])
        yield TriggerEvent({"type": "message", "data": "79.001:2025"})

    monkeypatch.setattr(redis_await_message.AwaitMessageTrigger, "run", run)
    classpath, kwargs = PortalAnnouncementTrigger(
        channels=["dti.submissions"], redis_conn_id="dti_redis", poll_interval=0.5
    ).serialize()
    module, name = classpath.rsplit(".", 1)
    trigger = getattr(importlib.import_module(module), name)(**kwargs)

    async def first():
        return await _next_event(trigger.run())

    event = asyncio.run(first())
    assert event.payload == {"type": "message", "data": "79.001:2025"}
    assert heard[0]["channels"] == ["dti.submissions"]
    assert heard[0]["redis_conn_id"] == "dti_redis"
    assert heard[0]["poll_interval"] == 0.5
