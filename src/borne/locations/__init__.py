"""Locations: where stations stand (the OCPI Location), and how their EVSEs and connectors are
described for roaming and price display.

A station belongs to at most one location; its EVSEs and connectors are described per
``(station_id, evse_id)`` and ``(station_id, evse_id, connector_id)`` (the OCPP 2.0.1 addressing
every domain uses). :func:`borne.locations.service.location_time_zone` gives the IANA time zone
in which tariff restrictions are read for a station ("UTC" when it has no location).
"""
