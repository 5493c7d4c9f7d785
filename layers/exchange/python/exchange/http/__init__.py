"""The REST API's HTTP side, shared by the four REST functions (orders, account, markets,
deposits): ``routes`` (one Powertools Router per function), request and response ``schemas``,
``problems`` (problem+json errors, mapped in one table), ``identity`` from the authorizer's
claims, ``cursor`` (opaque page cursors), ``app`` (body checks, security headers, serving an
event) and ``openapi`` (the document). The logic behind it is in ``orders``, ``market`` and
``ledger``; it knows nothing of HTTP."""
