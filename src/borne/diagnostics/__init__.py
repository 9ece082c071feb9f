"""Diagnostics and monitoring: log uploads received by Borne, customer information, 2.0.1
variable monitoring and the events stations notify."""
