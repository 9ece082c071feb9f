"""The reference CSMS Borne is compared with: ``python -m benchmarks.reference.server``."""
