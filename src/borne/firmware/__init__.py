"""Firmware: updates sent to stations (1.6, 1.6 security, 2.0.1), status history, campaigns."""
