"""OCPP-J transport: framing, RPC engine, schema validation, router, gateway, outbound calls.

This package knows nothing of the business; domains register handlers on a ``Router``.
"""
