"""Ethereum addresses as text: what the keystores and the disperser check share."""

from __future__ import annotations

from eth_hash.auto import keccak


def to_checksum_address(address: bytes) -> str:
    """The EIP-55 form of a 20-byte address: each hex letter upper-cased where the same nibble
    of keccak256(lower-case hex) is >= 8."""
    digits = address.hex()
    mask = keccak(digits.encode("ascii")).hex()
    return "0x" + "".join(
        digit.upper() if int(nibble, 16) >= 8 else digit
        for digit, nibble in zip(digits, mask, strict=False)
    )
