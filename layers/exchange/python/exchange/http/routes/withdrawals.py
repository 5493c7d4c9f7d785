"""Routes of the account function for money out and what the user is told: withdrawal
destinations, withdrawals (request, list, read, cancel) and the email notification preferences.

The destinations take the user's access token only, never an API key (a stolen key must not add
a payout address; ``exchange.apikeys.scopes``). A withdrawal and its cancel take a key with the
``withdraw`` scope; the reads a key with ``read``.
"""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from exchange.http.app import service
from exchange.http.identity import account_id
from exchange.http.money_schemas import (
    RESOURCE_ID_PATTERN,
    DestinationBody,
    DestinationOut,
    DestinationsOut,
    NotificationsBody,
    NotificationsOut,
    WithdrawalBody,
    WithdrawalOut,
    WithdrawalsOut,
)
from exchange.http.problems import HttpProblem, responses
from exchange.http.routing import AUTHORIZED, new_router
from exchange.http.schemas import IDEMPOTENCY_KEY_PATTERN
from exchange.ledger.notices_port import NoticesPort
from exchange.notices import ALWAYS_EMAILED, NoticeKind, NotificationPreferences
from exchange.payouts.withdrawals import MAX_LISTED, WithdrawalService

IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)]
DestinationIdPath = Annotated[
    str, Path(pattern=RESOURCE_ID_PATTERN, description="The destination's id (dst-...)")
]
WithdrawalIdPath = Annotated[
    str, Path(pattern=RESOURCE_ID_PATTERN, description="The withdrawal's id (wd-...)")
]


class SecurityNoticesRequired(HttpProblem):
    """A preferences update that switches off a kind of notice that is always emailed."""

    code = "security_notices_required"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


def withdrawals_router() -> Router:
    router = new_router()

    def money() -> WithdrawalService:
        return service(router, WithdrawalService)

    def me() -> str:
        return account_id(router.current_event)

    # -- destinations ---------------------------------------------------------------------------
    @router.post(
        "/v1/withdrawal-destinations",
        status_code=201,
        summary="Add a withdrawal destination: usable after a waiting period",
        description="A blockchain address or a bank account for one asset. It is PENDING until "
        "usable_at (a day by default), and you are emailed at once: a stolen session cannot "
        "add an address and withdraw to it straight away. The Idempotency-Key header is "
        "required: a retry with the same key returns the same destination; the same key with "
        "another asset, kind or address is a 409 destination_conflict. 400 "
        "invalid_destination: the address is not well-formed for its kind. Takes the access "
        "token only, never an API key.",
        responses=responses(201, "Added (PENDING until usable_at)", 401, 403, 409, 413, 415, 422),
        tags=["withdrawals"],
        security=AUTHORIZED,
    )
    def add_destination(body: DestinationBody, idempotency_key: IdempotencyKey) -> DestinationOut:
        added = money().add_destination(
            me(),
            asset=body.asset,
            kind=body.kind,
            address=body.address,
            label=body.label,
            idempotency_key=idempotency_key,
        )
        return DestinationOut.of(added, money().clock())

    @router.get(
        "/v1/withdrawal-destinations",
        summary="Your withdrawal destinations, newest first (removed ones are not listed)",
        responses=responses(200, "The destinations", 401),
        tags=["withdrawals"],
        security=AUTHORIZED,
    )
    def list_destinations() -> DestinationsOut:
        now = money().clock()
        return DestinationsOut(
            destinations=[DestinationOut.of(d, now) for d in money().destinations(me())]
        )

    @router.delete(
        "/v1/withdrawal-destinations/<destination_id>",
        summary="Remove a withdrawal destination",
        description="No new withdrawal may name it; withdrawals already requested to it go on. "
        "Idempotent: removing it again answers it unchanged.",
        responses=responses(200, "The removed destination", 401, 404),
        tags=["withdrawals"],
        security=AUTHORIZED,
    )
    def remove_destination(destination_id: DestinationIdPath) -> DestinationOut:
        removed = money().remove_destination(me(), destination_id)
        return DestinationOut.of(removed, money().clock())

    # -- withdrawals ----------------------------------------------------------------------------
    @router.post(
        "/v1/withdrawals",
        status_code=202,
        summary="Request a withdrawal to one of your destinations: the amount is held until the "
        "payout completes or fails",
        description="The Idempotency-Key header is required: a retry with the same key returns "
        "the same withdrawal; the same key with another asset, amount or destination is a 409. "
        "409 destination_not_usable: the destination is unknown, removed, still waiting for "
        "its usable_at, or for another asset; nothing is held. 403 account_frozen: an operator "
        "froze the account; nothing is held. Once held, the withdrawal is sent to the payment "
        "provider; follow it with GET /v1/withdrawals/{withdrawal_id}.",
        responses=responses(202, "Accepted (PENDING)", 401, 403, 409, 413, 415, 422),
        tags=["withdrawals"],
        security=AUTHORIZED,
    )
    def request_withdrawal(body: WithdrawalBody, idempotency_key: IdempotencyKey) -> WithdrawalOut:
        withdrawal = money().withdraw(
            me(),
            asset=body.asset,
            amount=body.amount,
            destination_id=body.destination_id,
            idempotency_key=idempotency_key,
        )
        return WithdrawalOut.of(withdrawal)

    @router.get(
        "/v1/withdrawals",
        summary="Your withdrawals, newest first",
        responses=responses(200, "The withdrawals", 401),
        tags=["withdrawals"],
        security=AUTHORIZED,
    )
    def list_withdrawals(
        limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = MAX_LISTED,
    ) -> WithdrawalsOut:
        listed = money().withdrawals(me(), limit=limit)
        return WithdrawalsOut(withdrawals=[WithdrawalOut.of(w) for w in listed])

    @router.get(
        "/v1/withdrawals/<withdrawal_id>",
        summary="One of your withdrawals",
        description="Another account's withdrawal reads the same as a missing one (404).",
        responses=responses(200, "The withdrawal", 401, 404),
        tags=["withdrawals"],
        security=AUTHORIZED,
    )
    def get_withdrawal(withdrawal_id: WithdrawalIdPath) -> WithdrawalOut:
        return WithdrawalOut.of(money().withdrawal(me(), withdrawal_id))

    @router.delete(
        "/v1/withdrawals/<withdrawal_id>",
        summary="Cancel a withdrawal not yet sent to the payment provider",
        description="A PENDING withdrawal becomes CANCELLED and its hold goes back to "
        "available. Cancelling a cancelled one answers it unchanged. 409 "
        "withdrawal_not_cancellable: it was already sent (SENDING) or has finished.",
        responses=responses(200, "The cancelled withdrawal", 401, 404, 409),
        tags=["withdrawals"],
        security=AUTHORIZED,
    )
    def cancel_withdrawal(withdrawal_id: WithdrawalIdPath) -> WithdrawalOut:
        return WithdrawalOut.of(money().cancel(me(), withdrawal_id))

    # -- notification preferences ---------------------------------------------------------------
    def notices() -> NoticesPort:
        # The ledger itself is among the services; mypy wants a concrete class for type[T].
        return service(router, NoticesPort)  # type: ignore[type-abstract]

    @router.get(
        "/v1/account/notifications",
        summary="Which notices you are emailed: fills, deposits, withdrawals, security",
        description="The defaults until you set them: DEPOSIT, WITHDRAWAL and SECURITY on, "
        "FILL off.",
        responses=responses(200, "Your preferences", 401, 422),
        tags=["account"],
        security=AUTHORIZED,
    )
    def get_notifications() -> NotificationsOut:
        return NotificationsOut.of(notices().notification_preferences(me()))

    @router.put(
        "/v1/account/notifications",
        summary="Switch the emails of some kinds of notice on or off",
        description="The kinds named are set; the others keep their setting. 422 "
        "security_notices_required: SECURITY (a new API key, a new withdrawal destination, a "
        "password change) cannot be switched off.",
        responses=responses(200, "Your preferences, as stored", 401, 413, 415, 422),
        tags=["account"],
        security=AUTHORIZED,
    )
    def put_notifications(body: NotificationsBody) -> NotificationsOut:
        refused = sorted(
            kind for kind, on in body.email.items() if not on and kind in ALWAYS_EMAILED
        )
        if refused:
            raise SecurityNoticesRequired(f"{', '.join(refused)} notices cannot be switched off")
        who = me()
        current = notices().notification_preferences(who)
        email = {kind: body.email.get(kind, current.wants(kind)) for kind in NoticeKind}
        stored = notices().set_notification_preferences(NotificationPreferences(who, email))
        return NotificationsOut.of(stored)

    return router
