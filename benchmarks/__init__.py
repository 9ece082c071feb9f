"""Borne's benchmark harness: see benchmarks/README.md (``python -m benchmarks.run``)."""
