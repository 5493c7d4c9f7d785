"""Adapters behind the ports in ``engine_service.ports``: real ones and in-process ones."""
