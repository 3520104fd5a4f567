"""Benchmarks of routing-engine: seeded instance families, the isolated-run harness, its reports and charts.

`python -m benchmarks.harness --profile ci` (or `routing-engine bench`) runs them; see README.md here.
"""
