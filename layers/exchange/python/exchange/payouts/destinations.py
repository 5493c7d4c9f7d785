"""The format check of a new withdrawal destination: its address (per kind) and its label.

A check of form only (length and characters, and the IBAN check digits): nothing is looked up on
a network or at a bank. It stops a typo or pasted garbage from becoming a payout address that
waits out its delay before anyone notices; whether the address really exists is for the payment
provider, which fails the payout (and the hold is released) when it does not.

- ``ADDRESS`` (a blockchain address): 20 to 128 letters and digits, as typed (case matters in
  base58 and bech32); a ``0x`` address is ``0x`` and 40 hex digits (an EVM address).
- ``BANK`` (a bank account reference): spaces dropped and letters upper-cased, then 6 to 34
  letters and digits; one shaped like an IBAN (two letters, two digits, then 11 to 30 letters and
  digits) must pass its mod-97 check digits (ISO 13616).

>>> normalized_address(DestinationKind.BANK, "gb82 west 1234 5698 7654 32")
'GB82WEST12345698765432'
>>> normalized_address(DestinationKind.ADDRESS, "0x52908400098527886E0F7030069857D2E4169EE7")
'0x52908400098527886E0F7030069857D2E4169EE7'
>>> normalized_address(DestinationKind.BANK, "GB00WEST12345698765432")
Traceback (most recent call last):
...
exchange.payouts.destinations.InvalidDestination: the IBAN's check digits are wrong
"""

import re
import unicodedata
from typing import Final

from exchange.domain.errors import ExchangeError
from exchange.ledger.payouts_port import DestinationKind

_ADDRESS: Final = re.compile(r"[A-Za-z0-9]{20,128}")
_EVM_ADDRESS: Final = re.compile(r"0x[0-9A-Fa-f]{40}")
_BANK: Final = re.compile(r"[A-Z0-9]{6,34}")
_IBAN: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
MAX_LABEL: Final = 64


class InvalidDestination(ExchangeError):
    """A destination whose address or label is not well-formed for its kind."""

    code = "invalid_destination"


def normalized_address(kind: DestinationKind, address: str) -> str:
    """The address as stored and paid to; InvalidDestination when it is not well-formed."""
    if kind is DestinationKind.ADDRESS:
        return _blockchain_address(address.strip())
    return _bank_reference(address)


def checked_label(label: str) -> str:
    """The label trimmed: 1 to 64 printable characters (no control or format characters, which
    could hide text in a list of destinations)."""
    trimmed = label.strip()
    if not 0 < len(trimmed) <= MAX_LABEL:
        raise InvalidDestination(f"a label is 1 to {MAX_LABEL} characters")
    if any(unicodedata.category(char).startswith("C") for char in trimmed):
        raise InvalidDestination("a label holds no control characters")
    return trimmed


def _blockchain_address(address: str) -> str:
    if address[:2].lower() == "0x":
        if not _EVM_ADDRESS.fullmatch(address):
            raise InvalidDestination("a 0x address is 0x and 40 hexadecimal digits")
        return address
    if not _ADDRESS.fullmatch(address):
        raise InvalidDestination("an address is 20 to 128 letters and digits")
    return address


def _bank_reference(address: str) -> str:
    reference = "".join(address.split()).upper()
    if not _BANK.fullmatch(reference):
        raise InvalidDestination("a bank reference is 6 to 34 letters and digits (IBAN or number)")
    if _IBAN.fullmatch(reference) and not _iban_checks(reference):
        raise InvalidDestination("the IBAN's check digits are wrong")
    return reference


def _iban_checks(iban: str) -> bool:
    """ISO 13616: the first four characters moved to the end, letters as 10..35, mod 97 is 1."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1
