"""Session limits: maximum cost, energy or duration per charging session, enforced by a stop."""
