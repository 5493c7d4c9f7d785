"""The matching engine service: a pure core (``engine_service.core``) inside a runtime."""
