"""The trading API's logic and data access, with no knowledge of HTTP or API Gateway.

Layout: ``model`` (orders, fills, statuses, pages), ``errors``, ``ids``; the logic in ``orders``,
``accounts``, ``markets`` and ``deposits``; the ports with their real adapters (``dynamo``,
``publisher``, ``books``, ``secrets``, ``idempotency``) and in-memory fakes (``memory``);
``wiring`` builds the real adapters from settings.
"""
