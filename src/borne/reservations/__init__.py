"""Operator reservations: ReserveNow / CancelReservation / ReservationStatusUpdate (1.6, 2.0.1)."""
