"""Thin Azure Functions triggers. Each one converts the platform's objects and calls `shared`."""
