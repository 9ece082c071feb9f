"""Driver notifications: signed webhooks delivered from a durable outbox."""
