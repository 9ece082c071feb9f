"""Borne: an open-source EV-charging platform (OCPP CSMS, OCPI roaming, Plug & Charge)."""

__version__ = "0.1.0"
