"""The roof: the pipeline's steps (``pipeline.steps``), the ``dti`` command (``pipeline.cli``) and
the bundled sample (``pipeline.sample``). It may import every package below it; none imports it.
"""
