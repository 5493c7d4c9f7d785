"""Typed errors of the ledger. Each has a ``code`` the API maps to a problem+json response.

Suggested HTTP mapping (the REST API issue owns it): ``InvalidSignature`` and ``StaleWebhook`` 401,
``ReplayedWebhook`` 409 (or 200 to a provider that retries what it already delivered),
``InsufficientFunds`` and ``KycNotAllowed`` 422/403, ``AccountFrozen`` 403, ``UnknownAccount`` 404,
``DividendConflict`` 409, ``InvalidDividend`` 422, the rest 400/409.
"""

from exchange.domain.errors import ExchangeError


class LedgerError(ExchangeError):
    code = "ledger_error"


class UnknownAccount(LedgerError):
    code = "unknown_account"


class KycNotAllowed(LedgerError):
    """The account's KYC status does not allow trading or withdrawing."""

    code = "kyc_not_allowed"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class InvalidAmount(LedgerError):
    """An amount that is not positive, or finer than its asset's precision."""

    code = "invalid_amount"


class UnknownAsset(LedgerError):
    code = "unknown_asset"


class NoProtectionPrice(LedgerError):
    """A market buy on a symbol with no protection price configured: nothing to hold against."""

    code = "no_protection_price"


class UnknownReservation(LedgerError):
    """An event or release for an order the ledger holds nothing for."""

    code = "unknown_reservation"


class ReservationConflict(LedgerError):
    """The same order id reserved again with different terms (account, side, price or qty)."""

    code = "reservation_conflict"


class LedgerInconsistency(LedgerError):
    """An event that contradicts the ledger, e.g. a fill larger than the order's open quantity."""

    code = "ledger_inconsistency"


class InvalidSignature(LedgerError):
    """A webhook whose signature header is missing, malformed or does not match the body."""

    code = "invalid_signature"


class StaleWebhook(LedgerError):
    """A signed webhook whose timestamp is outside the tolerance."""

    code = "stale_webhook"


class ReplayedWebhook(LedgerError):
    """A webhook event (or deposit) already processed: nothing is written again."""

    code = "replayed_webhook"


class InvalidWebhook(LedgerError):
    """A correctly signed webhook whose body is not a deposit notice we understand."""

    code = "invalid_webhook"


class UnknownWithdrawal(LedgerError):
    code = "unknown_withdrawal"


class InvalidTransition(LedgerError):
    """A withdrawal moved from a final status, e.g. completing one that already failed."""

    code = "invalid_transition"


class AccountFrozen(LedgerError):
    """An operator froze the account: it may place no new order (nor an amend that holds more)
    and request no withdrawal; its cancels and settlement go on."""

    code = "account_frozen"


class InvalidDividend(LedgerError):
    """A dividend declaration the ledger cannot pay as declared (not an equity, an amount off
    the quote asset's scale, times out of order or in the past)."""

    code = "invalid_dividend"


class DividendConflict(InvalidDividend):
    """A dividend id declared again with other terms (the same terms return the first)."""

    code = "dividend_conflict"


class UnknownDestination(LedgerError):
    """No such withdrawal destination for this account (or it was removed)."""

    code = "unknown_destination"


class DestinationConflict(LedgerError):
    """A destination id already names another destination (other asset, kind or address)."""

    code = "destination_conflict"


class DestinationNotUsable(LedgerError):
    """The destination is still in its waiting period, removed, another account's, or for
    another asset."""

    code = "destination_not_usable"


class WithdrawalNotCancellable(InvalidTransition):
    """The withdrawal was already sent to the provider (SENDING) or has finished."""

    code = "withdrawal_not_cancellable"
