"""Tools the tests and the benchmarks share; the product never imports them.

``airflow_stack`` starts a disposable ``make airflow`` stack on loopback, ``portal_server`` is a
stand-in portal API, ``reference_scoring`` an independent scorer used as an oracle. They live
here rather than under ``tests/`` so that ``bench/`` can use them without importing the tests.
"""
