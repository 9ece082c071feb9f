"""The roaming domain: OCPI partners, the credentials handshake and (later) the CPO modules.

It may import ``borne.ocpi`` (transport), ``borne.core`` and other domains' services; no other
domain imports it (hooks are wired in ``bootstrap``).
"""
