"""Typed errors of the admin API's own rules. The router (``exchange.http.routes.admin``) maps them,
and the ports' errors (unknown symbol or account, version conflicts, the ledger's refusals), to
problem+json responses in one place."""

from exchange.domain.errors import ExchangeError


class InvalidAdminRequest(ExchangeError):
    """Well-formed, but the rules say no (a kill switch to POST_ONLY, a status in a change of
    listing, a shard that does not exist, a dividend on a crypto instrument, an asset the ledger
    does not know)."""

    code = "invalid_admin_request"


class UnknownAsset(InvalidAdminRequest):
    """A listing's base or quote the ledger has no scale for: new assets are deploy-time
    configuration (``EXCHANGE_LEDGER_ASSET_SCALES``), not an admin action."""

    code = "unknown_asset"


class UnknownShard(InvalidAdminRequest):
    code = "unknown_shard"


class NotAnEquity(InvalidAdminRequest):
    """Cash dividends are declared on EQUITY instruments only."""

    code = "not_an_equity"
