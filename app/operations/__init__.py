"""Running the service among others: draining on SIGTERM and metrics for Prometheus (SPEC §6)."""
