"""Names every layer shares: the validation checkpoints and the inbox's ready flag.

They live on the ground floor so that ingest, the validation gate, the publisher, the CLI and
the Airflow DAGs can all say them without importing one another.
"""

from __future__ import annotations

# The four validation checkpoints, in the order a run passes them. Each validates one thing:
#   framework        the framework registry (frameworks, pillars, indicators, units, periods)
#   submissions      the submitted answers as loaded (raw.submission_rows)
#   counted_answers  the answer that counts per indicator and stage (int_answers_latest)
#   scores           the published scores, levels and ranks (the marts)
CHECKPOINTS = ("framework", "submissions", "counted_answers", "scores")

# A sender writes ``<file>.ready`` once ``<file>`` is complete; only flagged files are read.
READY_SUFFIX = ".ready"
