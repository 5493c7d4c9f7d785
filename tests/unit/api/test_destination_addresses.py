"""The format check of a withdrawal destination (``exchange.payouts.destinations``): what each
kind accepts, how it is normalized, and what it refuses, before anything reaches the ledger."""

import pytest

from exchange.ledger.payouts_port import DestinationKind
from exchange.payouts.destinations import InvalidDestination, checked_label, normalized_address

ADDRESS, BANK = DestinationKind.ADDRESS, DestinationKind.BANK


@pytest.mark.parametrize(
    "address",
    [
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",  # bech32 (BTC)
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",  # base58 (BTC legacy)
        "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV",  # base58 (SOL)
        "0x52908400098527886E0F7030069857D2E4169EE7",  # EVM, mixed-case checksum
        "  bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq  ",  # pasted with blanks
    ],
)
def test_blockchain_addresses_are_kept_as_typed_but_trimmed(address: str) -> None:
    assert normalized_address(ADDRESS, address) == address.strip()


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("bc1qshort", "20 to 128"),
        ("x" * 129, "20 to 128"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzz wf5mdq", "20 to 128"),  # a blank inside
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq;drop", "20 to 128"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdé", "20 to 128"),  # not ASCII
        ("0x52908400098527886E0F7030069857D2E4169EE", "40 hexadecimal"),  # 39 digits
        ("0x52908400098527886E0F7030069857D2E4169EEG", "40 hexadecimal"),
        ("", "20 to 128"),
    ],
)
def test_malformed_blockchain_addresses_are_refused(address: str, why: str) -> None:
    with pytest.raises(InvalidDestination, match=why):
        normalized_address(ADDRESS, address)


@pytest.mark.parametrize(
    ("reference", "stored"),
    [
        ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),  # IBAN, as printed
        ("de89370400440532013000", "DE89370400440532013000"),  # IBAN, lower case
        ("000123456789", "000123456789"),  # an account number
        ("FAIL00012345", "FAIL00012345"),  # letters first but no IBAN shape: a plain reference
    ],
)
def test_bank_references_lose_their_blanks_and_are_upper_cased(reference: str, stored: str) -> None:
    assert normalized_address(BANK, reference) == stored


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("GB00 WEST 1234 5698 7654 32", "check digits"),  # one digit off the IBAN
        ("GB82 WEST 1234 5698 7654 33", "check digits"),
        ("12345", "6 to 34"),
        ("1" * 35, "6 to 34"),
        ("GB82-WEST-1234", "6 to 34"),
    ],
)
def test_malformed_bank_references_are_refused(reference: str, why: str) -> None:
    with pytest.raises(InvalidDestination, match=why):
        normalized_address(BANK, reference)


def test_a_label_is_trimmed_and_holds_no_control_characters() -> None:
    assert checked_label("  my bank ") == "my bank"
    for bad in ("", "   ", "x" * 65, "my\nbank", "my\u202ebank"):  # RLO hides text
        with pytest.raises(InvalidDestination):
            checked_label(bad)
