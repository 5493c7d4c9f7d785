"""Routes of the account function: profile, balances and positions (money out and the
notification preferences: ``exchange.http.routes.withdrawals``)."""

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler.api_gateway import Router

from exchange.http.app import service
from exchange.http.identity import account_id, caller
from exchange.http.problems import responses
from exchange.http.routing import AUTHORIZED, new_router
from exchange.http.schemas import (
    AccountOut,
    BalanceOut,
    BalancesOut,
    DividendOut,
    PnlOut,
    PositionsOut,
)
from exchange.ledger.accounts import AccountService
from exchange.ledger.model import Balance, DividendCredit
from exchange.ledger.money import show


def account_router() -> Router:
    router = new_router()

    def accounts() -> AccountService:
        return service(router, AccountService)

    @router.get(
        "/v1/account",
        summary="Your profile and KYC status",
        description="The account id and username come from your access token; the email and "
        "the KYC status from the ledger, where the account is opened when you confirm your "
        "sign-up (kyc_status null until then).",
        responses=responses(200, "The account", 401),
        tags=["account"],
        security=AUTHORIZED,
    )
    def get_account() -> AccountOut:
        who = caller(router.current_event)
        profile = accounts().profile(who.account_id, username=who.username)
        return AccountOut(
            account_id=profile.account_id,
            kyc_status=profile.kyc_status,
            email=profile.email,
            username=profile.username,
        )

    @router.get(
        "/v1/balances",
        summary="Your balances per asset: available, held and total",
        responses=responses(200, "The balances", 401),
        tags=["account"],
        security=AUTHORIZED,
    )
    def get_balances() -> BalancesOut:
        balances = accounts().balances(account_id(router.current_event))
        return BalancesOut(balances=[_balance(b) for b in balances])

    @router.get(
        "/v1/positions",
        summary="Your holdings, with average cost and realized P&L per instrument, and the "
        "dividends credited",
        responses=responses(200, "The positions", 401),
        tags=["account"],
        security=AUTHORIZED,
    )
    def get_positions() -> PositionsOut:
        positions = accounts().positions(account_id(router.current_event))
        return PositionsOut(
            holdings=[_balance(b) for b in positions.holdings],
            pnl=[
                PnlOut(
                    symbol=p.symbol,
                    quantity=show(p.quantity),
                    average_cost=None if p.average_cost is None else show(p.average_cost),
                    realized_pnl=show(p.realized_pnl),
                )
                for p in positions.pnl
            ],
            dividends=[_dividend(d) for d in positions.dividends],
        )

    return router


def _dividend(credit: DividendCredit) -> DividendOut:
    return DividendOut(
        dividend_id=credit.dividend_id,
        symbol=credit.symbol,
        asset=credit.asset,
        units=show(credit.units),
        amount_per_unit=show(credit.amount_per_unit),
        amount=show(credit.amount),
        paid_at=_iso(credit.paid_at),
    )


def _iso(moment: datetime) -> str:
    """``2026-12-06T10:00:05.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _balance(balance: Balance) -> BalanceOut:
    return BalanceOut(
        asset=balance.asset,
        available=show(balance.available),
        held=show(balance.held),
        total=show(balance.total),
    )
