"""The operators' functions in the catalog (``lambdas.catalog``): the admin API, the scheduled
reconciliation and the dividends' payer. Apart only to keep the catalog's module short."""

from typing import Final

from exchange.settings import (
    OPERATORS_GROUP,
    AdminSettings,
    DividendsSettings,
    ReconciliationSettings,
)
from lambdas.kinds import FunctionSpec, Method, Need, Route, Trigger


def _operators(method: Method, path: str) -> Route:
    """An admin route: the user's access token, and the caller in the operators group."""
    return Route(method, path, group=OPERATORS_GROUP)


ADMIN: Final = FunctionSpec(
    name="admin",
    description="Operators' admin API: symbol status, mass cancel, kill switch,"
    " account freeze, listings, dividends (the operators group only)",
    trigger=Trigger.REST,
    settings=AdminSettings,
    # instruments: listings and their versions; audit: every admin action, who,
    # when and why, chained.
    tables={"instruments": "write", "audit": "write"},
    needs=frozenset({Need.BROKER, Need.LEDGER}),
    routes=(
        _operators("GET", "/v1/admin/markets"),
        _operators("PUT", "/v1/admin/markets/{symbol}/status"),
        _operators("POST", "/v1/admin/markets/{symbol}/cancel-orders"),
        _operators("POST", "/v1/admin/kill-switch"),
        _operators("POST", "/v1/admin/accounts/{account_id}/freeze"),
        _operators("POST", "/v1/admin/accounts/{account_id}/unfreeze"),
        _operators("POST", "/v1/admin/accounts/{account_id}/cancel-orders"),
        _operators("GET", "/v1/admin/instruments/{symbol}"),
        _operators("PUT", "/v1/admin/instruments/{symbol}"),
        _operators("GET", "/v1/admin/dividends"),
        _operators("POST", "/v1/admin/dividends"),
        _operators("GET", "/v1/admin/audit"),
    ),
    reserved_concurrency=5,
    timeout_seconds=29,
)

RECONCILIATION: Final = FunctionSpec(
    name="reconciliation",
    description="Every 15 minutes: engine vs order store vs ledger holds,"
    " solvency per asset, fills vs settled trades; metrics and a report in S3",
    trigger=Trigger.SCHEDULE,
    settings=ReconciliationSettings,
    # audit and cursors: how far the recorder and the settlement have applied each
    # symbol, so what they have not caught up with is in flight, not drift.
    tables={
        "instruments": "read",
        "orders": "read",
        "trades": "read",
        "audit": "read",
        "cursors": "read",
    },
    needs=frozenset({Need.LEDGER, Need.ENGINE_SNAPSHOTS, Need.REPORTS_BUCKET}),
    reserved_concurrency=1,
    timeout_seconds=300,
    every_minutes=15,
)

DIVIDENDS: Final = FunctionSpec(
    name="dividends",
    description="Every minute: pays the cash dividends that are due, exactly once",
    trigger=Trigger.SCHEDULE,
    settings=DividendsSettings,
    tables={"instruments": "read"},
    needs=frozenset({Need.LEDGER}),
    reserved_concurrency=1,
    timeout_seconds=120,
    every_minutes=1,
)
