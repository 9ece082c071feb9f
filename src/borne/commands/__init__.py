"""Commands: CSMS-initiated remote control of stations, whatever OCPP version they speak."""
