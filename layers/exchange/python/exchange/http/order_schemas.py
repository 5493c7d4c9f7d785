"""Bodies and answers of the orders function's bulk routes: cancel-all and the dead man's switch.
Time windows on listings are ``exchange.http.time_range``'s."""

from typing import Final

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from exchange.http.schemas import OrderAccepted
from exchange.http.time_range import iso_ms
from exchange.orders.cancel_after import State
from exchange.orders.mass_cancel import MassCancelResult

# SQS delays a message 900 seconds at most; the deployment's bounds are checked by the logic.
MAX_CANCEL_AFTER_SECONDS: Final = 900


class CancelAfterBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: StrictInt = Field(
        ge=0,
        le=MAX_CANCEL_AFTER_SECONDS,
        description="Cancel all your open orders unless renewed within this many seconds; 0 "
        "disarms. The deployment allows 5 to 900 by default (cancel_after_min_seconds, "
        "cancel_after_max_seconds); outside its bounds is a 400",
        examples=[60],
    )


class CancelAfterOut(BaseModel):
    deadline: str | None = Field(
        description="When your open orders are cancelled unless renewed (ISO-8601, UTC); "
        "null when disarmed"
    )
    deadline_ms: int | None = Field(description="The same, in epoch milliseconds")
    timeout_seconds: int = Field(description="0 when disarmed")
    fired: str | None = Field(
        default=None,
        description="A deadline that had already passed unrenewed when this request came: its "
        "cancels were sent before the switch was set again",
    )

    @classmethod
    def of(cls, state: State) -> "CancelAfterOut":
        switch = state.switch
        return cls(
            deadline=iso_ms(switch.deadline_ms) if switch else None,
            deadline_ms=switch.deadline_ms if switch else None,
            timeout_seconds=switch.timeout_seconds if switch else 0,
            fired=iso_ms(state.fired.deadline_ms) if state.fired else None,
        )


class NotSentOut(BaseModel):
    order_id: str
    client_order_id: str
    symbol: str
    reason: str = Field(
        description="broker_unavailable, publish_unconfirmed (it may have been sent) or "
        "not_attempted (an earlier cancel failed); call again (with a new Idempotency-Key: the "
        "same key answers this again)"
    )
    detail: str


class MassCancelOut(BaseModel):
    """What ``DELETE /v1/orders`` sent to the matching engine: one cancel per open order."""

    accepted: list[OrderAccepted] = Field(
        description="A cancel was sent for each (PENDING_CANCEL); the outcomes arrive as order "
        "updates, and settlement releases each hold when the engine confirms"
    )
    not_sent: list[NotSentOut] = Field(description="Open orders whose cancel was not sent")
    truncated: bool = Field(
        description="More open orders were found than one request cancels: call again"
    )

    @classmethod
    def of(cls, result: MassCancelResult) -> "MassCancelOut":
        return cls(
            accepted=[
                OrderAccepted(
                    order_id=accepted.order_id,
                    status=accepted.status,
                    client_order_id=accepted.client_order_id,
                    symbol=accepted.symbol,
                    command_id=accepted.command_id,
                )
                for accepted in result.sent
            ],
            not_sent=[
                NotSentOut(
                    order_id=item.order_id,
                    client_order_id=item.client_order_id,
                    symbol=item.symbol,
                    reason=item.reason,
                    detail=item.detail,
                )
                for item in result.not_sent
            ],
            truncated=result.truncated,
        )
