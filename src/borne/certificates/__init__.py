"""Charging-station certificates: SignCertificate/CertificateSigned with Borne's CA, renewal
before expiry, the CSMS roots installed on stations, and security-profile upgrades."""
