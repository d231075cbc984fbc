"""The ground floor of the DTI (Chỉ số chuyển đổi số) pipeline: settings and shared names.

Every package imports ``dti.settings`` and ``dti.vocabulary``; ``dti`` imports none of ours.
"""

__version__ = "0.1.0"
