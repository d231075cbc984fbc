"""How we know the data is right: Great Expectations suites per stage, the gate, the audit trail.

``expectations.gate.validate_checkpoint(settings, checkpoint, period)`` is the entry point; see
``suites`` for what each stage checks and ``audit`` for what is recorded.
"""
