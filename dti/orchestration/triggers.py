"""The old class path ``dti.orchestration.triggers.ReadyFlagTrigger``.

Airflow stores a watcher's trigger by class path in its metadata database; a deployment that
upgrades while a trigger row still names this path keeps working through this re-export. The
trigger itself lives in ``orchestration.triggers`` (which is what new rows name).
"""

from orchestration.triggers import ReadyFlagTrigger

__all__ = ["ReadyFlagTrigger"]
