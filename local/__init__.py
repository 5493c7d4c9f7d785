"""The local stack: the whole exchange on one machine (``python -m local``, ``make run``).

Layout: ``stack`` starts and stops everything; ``services`` finds or embeds PostgreSQL, Redis and
RabbitMQ; ``aws`` runs moto and provisions it from the CDK's own definitions; ``functions`` hosts
the Lambda handlers; ``gateway`` is API Gateway (REST, WebSocket, Management API); ``pollers``
are the Kinesis event source mappings; ``engine`` runs and supervises the matching engine;
``accounts`` makes demo users and money; ``broker`` is the in-process broker's publisher.
"""
