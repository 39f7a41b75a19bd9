"""Fleet health: the diagnostics report, Prometheus metrics and the heartbeat to the API."""
