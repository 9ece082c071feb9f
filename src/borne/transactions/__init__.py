"""Charging transactions: OCPP 1.6 start/stop/meter values and 2.0.1 TransactionEvent."""
