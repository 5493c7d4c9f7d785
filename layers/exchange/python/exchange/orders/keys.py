"""The placement guards' port: which order each idempotency key made, and how many open-order
slots each account holds (the ``order_keys`` table; ``keys_dynamo`` on DynamoDB,
``InMemoryOrderKeys`` in ``exchange.testing.fakes``).

A keyed placement claims ``(account, key)`` for a new order id together with one of the account's
open-order slots, before anything is held. The first claim wins; every retry finds it and resumes
that order, even after the idempotency record expired, so a key makes one order whatever failed.
A slot is given back when the placement definitely failed (the ledger refused, nothing is held)
or, by the recorder, when the order reaches a final status.

>>> fingerprint({"qty": "1", "price": None}) == fingerprint({"price": None, "qty": "1"})
True
"""

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """What a key's first placement fixed, so that every retry rebuilds the same ``NewOrder``."""

    order_id: str
    fingerprint: str  # the request's hash: the same key with another request is a 409
    created_ns: int  # the NewOrder's ts
    protection_price: int | None = None  # ticks; the funds are held at it


class OrderKeys(ABC):
    @abstractmethod
    def claim(self, account_id: str, key: str, claim: KeyClaim, *, max_open: int) -> KeyClaim:
        """Record ``claim`` for the key and take one of the account's open-order slots: both or
        neither. Returns the key's earlier claim (taking no slot) when there is one; raises
        TooManyOpenOrders when the account already holds ``max_open`` slots."""

    @abstractmethod
    def take_slot(self, account_id: str, *, max_open: int) -> None:
        """One open-order slot for a placement without a key. Raises TooManyOpenOrders."""

    @abstractmethod
    def give_back(self, account_id: str, key: str | None) -> None:
        """The placement definitely failed with nothing held: free its slot and drop the key's
        claim (both or neither), so a retry starts afresh."""


def fingerprint(payload: Mapping[str, Any]) -> str:
    """A request's hash, independent of key order."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
