"""Stations: identity, credentials, boot, status and what stations report."""
