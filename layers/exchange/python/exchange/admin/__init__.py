"""Operators' controls (``/v1/admin``): trading status per symbol and the kill switch, mass
cancels, account freezes, listings, dividends, and the operators' audit log.

- ``auth``: who may (the operators' Cognito group, from API Gateway's flattened claim).
- ``service``: what each action does, in which order (audit entry, then ledger, then engine).
- ``listings``: the checks of a new listing or a change; ``dispatch``: publishing per symbol.
- ``audit`` / ``audit_dynamo``: the ``operators`` hash chain (and each account's, for freezes).
The HTTP edge is ``exchange.http.routes.admin`` (with ``admin_schemas`` and ``admin_problems``
beside the other routes' bodies); ``lambdas/admin`` serves it.
"""
