"""The local stack: the whole exchange on one machine (``python -m local``, ``make run``).

Layout: ``stack`` starts and stops everything; ``template`` reads what the CDK app deploys
(``template_api``: methods, authorizers, gateway responses; ``template_queues``: SQS queues,
their mappings, KMS keys; ``cfn``: the template's intrinsics); ``environment`` gives each function
its deployed variables with local values; ``services`` finds or embeds PostgreSQL, Redis and
RabbitMQ; ``aws`` runs moto and provisions it from the CDK's own definitions (tables, stream, user
pool, secrets, the API keys' KMS key); ``sqs`` makes the template's queues and polls them as
Lambda's SQS event source mapping does (the dead man's switch's timers); ``functions`` hosts the
Lambda handlers; ``gateway`` is API Gateway (REST with the Cognito and Lambda REQUEST
authorizers, WebSocket, Management API); ``pollers`` are the Kinesis event source mappings
(``event_sources`` starts both kinds); ``engine`` runs and supervises the matching engine;
``accounts`` makes demo users and money; ``broker`` is the in-process broker's publisher.
"""
