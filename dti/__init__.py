"""DTI (Chỉ số chuyển đổi số) assessment pipeline: the shared core (settings, CLI, pipeline steps)."""

__version__ = "0.1.0"
