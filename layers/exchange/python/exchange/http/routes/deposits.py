"""Routes of the deposits function: the payment provider's signed webhooks (no JWT), for deposits
and for payouts (withdrawals completed or failed)."""

import time
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel

from exchange.http.app import raw_body, service
from exchange.http.problems import responses
from exchange.http.routing import new_router
from exchange.http.schemas import DepositReceiptOut
from exchange.ledger.deposits import DepositReceiver
from exchange.payouts.webhooks import PayoutWebhookReceiver


class PayoutReceiptOut(BaseModel):
    status: Literal["COMPLETED", "FAILED", "DUPLICATE"]
    withdrawal_id: str | None = None


def deposits_router() -> Router:
    router = new_router()

    @router.post(
        "/v1/webhooks/deposits",
        summary="Deposit notice from the payment provider, signed with HMAC-SHA256",
        description="Header `Exchange-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "
        '"<t>." + raw body>`, within 300 s. The body is a JSON object with event_id, type '
        "(deposit.succeeded or deposit.failed), deposit_id, account_id, asset and amount (a "
        "decimal string); it is parsed only after the signature matches. A replayed event "
        "answers 200 with status DUPLICATE.",
        responses=responses(200, "Processed", 401, 413, 415, 422),
        tags=["deposits"],
    )
    def deposit_webhook(
        signature: Annotated[
            str | None, Header(alias="Exchange-Signature", max_length=1024)
        ] = None,
    ) -> DepositReceiptOut:
        receiver = service(router, DepositReceiver)
        receipt = receiver.receive(
            raw_body(router.current_event.raw_event), signature, now=int(time.time())
        )
        return DepositReceiptOut(status=receipt.status, deposit_id=receipt.deposit_id)

    @router.post(
        "/v1/webhooks/payouts",
        summary="Payout outcome from the payment provider, signed with HMAC-SHA256",
        description="Signed as the deposit webhook is (`Exchange-Signature`, the same secret, "
        "within 300 s). The body is a JSON object with event_id, type (payout.completed or "
        "payout.failed), withdrawal_id, provider_reference, asset, amount (a decimal string) and, "
        "when failed, reason. A completed payout debits the withdrawal's hold, a failed one "
        "releases it, exactly once: a replayed event answers 200 with status DUPLICATE, an "
        "unknown withdrawal 404, an outcome that contradicts the withdrawal's 409.",
        responses=responses(200, "Processed", 401, 404, 409, 413, 415),
        tags=["deposits"],
    )
    def payout_webhook(
        signature: Annotated[
            str | None, Header(alias="Exchange-Signature", max_length=1024)
        ] = None,
    ) -> PayoutReceiptOut:
        receiver = service(router, PayoutWebhookReceiver)
        receipt = receiver.receive(
            raw_body(router.current_event.raw_event), signature, now=int(time.time())
        )
        return PayoutReceiptOut(status=receipt.status, withdrawal_id=receipt.withdrawal_id)

    return router
