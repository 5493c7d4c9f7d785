"""Route of the kyc function: the KYC provider's signed verdicts (no JWT)."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header

from exchange.http.app import raw_body, service
from exchange.http.problems import NotFound, responses
from exchange.http.routing import new_router
from exchange.http.schemas import KycReceiptOut
from exchange.ledger.errors import UnknownAccount
from exchange.ledger.verification import KycWebhookReceiver


class UnknownKycAccount(NotFound):
    """The verdict names no account the ledger has opened (404, so the provider retries it)."""

    code = "unknown_account"


def kyc_router() -> Router:
    router = new_router()

    @router.post(
        "/v1/webhooks/kyc",
        summary="KYC verdict from the KYC provider, signed with HMAC-SHA256",
        description="Signed as the deposit webhook is, with the KYC provider's own secret: header "
        '`Exchange-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>`, '
        "within 300 s. The body is a JSON object with event_id, type (kyc.verified or "
        "kyc.rejected), account_id and an optional reason; it is parsed only after the "
        "signature matches. Each event_id is processed once (a replay answers 200 DUPLICATE). "
        "An operator's decision, a suspension or a newer verdict stands against it (200 "
        "SUPERSEDED, recorded). An account the ledger has not opened is a 404.",
        responses=responses(200, "Processed", 401, 404, 413, 415),
        tags=["kyc"],
    )
    def kyc_webhook(
        signature: Annotated[
            str | None, Header(alias="Exchange-Signature", max_length=1024)
        ] = None,
    ) -> KycReceiptOut:
        receiver = service(router, KycWebhookReceiver)
        try:
            outcome = receiver.receive(
                raw_body(router.current_event.raw_event), signature, now=int(time.time())
            )
        except UnknownAccount as exc:
            raise UnknownKycAccount(str(exc)) from exc
        return KycReceiptOut(
            status=outcome.result,
            account_id=outcome.account_id,
            kyc_status=outcome.kyc_status,
        )

    return router
