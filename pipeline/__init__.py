"""The roof and its front door: the jobs (``pipeline.jobs``) that every ``dti`` command and every
Airflow task calls, the steps they compose (``pipeline.steps``), the ``dti`` command
(``pipeline.cli``) and the bundled sample (``pipeline.sample``). It may import every package
below it; none imports it but ``orchestration``, which translates Airflow into calls of the jobs.
"""
