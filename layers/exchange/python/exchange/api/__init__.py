"""The REST API's HTTP side, shared by the four REST functions (orders, account, markets,
deposits): routes (one Powertools Router per function), request and response schemas,
problem+json errors, identity from the authorizer's claims, cursors, body checks and security
headers, settings, and the OpenAPI document. The logic behind it is ``exchange.trading``."""
