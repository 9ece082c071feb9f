"""Optional infrastructure (PostgreSQL helpers, NATS bus and registry); wired only by bootstrap."""
