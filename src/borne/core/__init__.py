"""Shared foundations: database, unit of work, event bus, connection registry, clock, errors."""
