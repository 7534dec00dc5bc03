"""Benchmarks of corecustomers against hand-written DuckDB SQL and lifetimes.

Run ``python -m benchmarks --help``. Every measurement runs in a fresh subprocess so its
peak memory is its own; see ``benchmarks/README.md`` for the figures and how to read them.
"""
