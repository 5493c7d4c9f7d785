"""Money out and what you are told: withdrawal destinations, withdrawals and their cancel, and
which notices are emailed to you.

    dest = await client.add_destination("USD", "GB82 WEST 1234 5698 7654 32", kind="BANK",
                                        label="my bank")
    # ... once dest.usable_at has passed (a day by default):
    withdrawal = await client.withdraw("USD", "250.00", destination_id=dest.destination_id)
    await client.cancel_withdrawal(withdrawal.withdrawal_id)   # while it is still PENDING

Destinations take the signed-in user's access token only, never an API key (a stolen key must
not add a payout address). Creating a destination or a withdrawal carries an Idempotency-Key,
the same on every retry, so a flaky network never adds or withdraws twice.
"""

import uuid
from collections.abc import Mapping
from typing import Literal

from exchange_client.endpoints.common import Endpoints, Number, decimal_string, items, segment
from exchange_client.models import convert
from exchange_client.money_models import Destination, NotificationPreferences, Withdrawal

DestinationKind = Literal["ADDRESS", "BANK"]


class MoneyEndpoints(Endpoints):
    # -- destinations (the access token only) ----------------------------------------------------
    async def add_destination(
        self,
        asset: str,
        address: str,
        *,
        kind: DestinationKind = "ADDRESS",
        label: str = "",
        idempotency_key: str | None = None,
    ) -> Destination:
        """``POST /v1/withdrawal-destinations``: PENDING until its ``usable_at``. ``label``
        defaults to the asset's name and the kind."""
        raw = await self.http.request(
            "POST",
            "/v1/withdrawal-destinations",
            body={"asset": asset, "kind": kind, "address": address,
                  "label": label or f"{asset} {kind.lower()}"},
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            token_only=True,
        )  # fmt: skip
        return convert(raw, Destination)

    async def destinations(self) -> list[Destination]:
        raw = await self.http.request("GET", "/v1/withdrawal-destinations", token_only=True)
        return [convert(item, Destination) for item in items(raw, "destinations")]

    async def remove_destination(self, destination_id: str) -> Destination:
        path = f"/v1/withdrawal-destinations/{segment(destination_id)}"
        return convert(await self.http.request("DELETE", path, token_only=True), Destination)

    # -- withdrawals -------------------------------------------------------------------------------
    async def withdraw(
        self,
        asset: str,
        amount: Number,
        *,
        destination_id: str,
        idempotency_key: str | None = None,
    ) -> Withdrawal:
        """``POST /v1/withdrawals``: holds ``amount`` and sends it to the payment provider.
        Refused (409 destination_not_usable) before the destination's ``usable_at``."""
        raw = await self.http.request(
            "POST",
            "/v1/withdrawals",
            body={"asset": asset, "amount": decimal_string(amount, "amount"),
                  "destination_id": destination_id},
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )  # fmt: skip
        return convert(raw, Withdrawal)

    async def withdrawals(self, *, limit: int | None = None) -> list[Withdrawal]:
        """Newest first."""
        raw = await self.http.request("GET", "/v1/withdrawals", params={"limit": limit})
        return [convert(item, Withdrawal) for item in items(raw, "withdrawals")]

    async def get_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        path = f"/v1/withdrawals/{segment(withdrawal_id)}"
        return convert(await self.http.request("GET", path), Withdrawal)

    async def cancel_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        """``DELETE /v1/withdrawals/{id}``: CANCELLED and the hold released, unless it was
        already sent (409 withdrawal_not_cancellable)."""
        path = f"/v1/withdrawals/{segment(withdrawal_id)}"
        return convert(await self.http.request("DELETE", path), Withdrawal)

    # -- notification preferences ------------------------------------------------------------------
    async def notification_preferences(self) -> NotificationPreferences:
        raw = await self.http.request("GET", "/v1/account/notifications")
        return convert(raw, NotificationPreferences)

    async def set_notification_preferences(
        self, email: Mapping[str, bool]
    ) -> NotificationPreferences:
        """Switch the kinds named on or off (the others keep their setting); SECURITY cannot be
        switched off. Takes the access token only (a key must not silence the emails)."""
        raw = await self.http.request(
            "PUT",
            "/v1/account/notifications",
            body={"email": {kind.upper(): bool(on) for kind, on in email.items()}},
            token_only=True,
        )
        return convert(raw, NotificationPreferences)
