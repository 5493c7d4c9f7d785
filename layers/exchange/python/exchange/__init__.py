"""Shared code of the exchange: domain types, wire format, settings and observability.

Shipped to Lambda as a layer (``layers/exchange``) and imported by the engine service, the tests
and local mode. ``exchange.domain`` is pure: it imports no AWS SDK and does no I/O.
"""

__version__ = "0.1.0"
