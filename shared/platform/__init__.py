"""Cross-cutting services every feature leans on: tenant ids, API keys, secrets, the throttle and idempotency."""
