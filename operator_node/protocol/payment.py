"""The account's signature on how it pays for a blob.

A blob header names the paying account and carries its :class:`~operator_node.protocol.headers.
Payment` (kind, timestamp, cumulative payment), all inside the blob header hash. The account
signs that hash, bound to one chain and one payment vault (raw secp256k1 over the 32 bytes, no
EIP-191 prefix, 65 bytes r ‖ s ‖ v with v in {27, 28}, as the disperser's request signature):

    paymentDigest = keccak256(abi.encode(bytes32 keccak256("operator-node.BlobPayment.v1"),
                                         uint256 chainId, address paymentVault,
                                         bytes32 blobHeaderHash))

So a disperser cannot spend an account's reservation or deposit on a blob the account did not
sign, nor change how it is paid; and a signature made for one network or vault is worthless on
another. The signature travels in the StoreChunks head, right after its blob header
(:mod:`~operator_node.protocol.wire`), so the disperser's own signature covers it as well.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32

from operator_node.protocol.auth import recover_signer_bytes
from operator_node.protocol.errors import MalformedRequest
from operator_node.protocol.hashes import WORD_BYTES, keccak256
from operator_node.protocol.headers import ADDRESS_BYTES, BlobHeader

PAYMENT_DOMAIN = b"operator-node.BlobPayment.v1"
# keccak256(PAYMENT_DOMAIN), written out so that importing does no work (a test checks it).
PAYMENT_TAG = bytes.fromhex("191509a35bce08575c3fa78476b27575225c8f867cd7f95bcffbc9840c23e3e8")


def compute_payment_digest(chain_id: int, vault: bytes, blob_header_hash: bytes) -> bytes:
    """The digest an account signs for a blob (see the module docstring).

    ``vault`` is the payment vault's raw 20-byte address. Raises :class:`MalformedRequest` for
    sizes that do not fit.
    """
    if len(vault) != ADDRESS_BYTES or len(blob_header_hash) != WORD_BYTES:
        raise MalformedRequest("the vault must be 20 bytes and the blob header hash 32")
    if not 0 <= chain_id < 1 << 256:
        raise MalformedRequest(f"chain id {chain_id} is not a uint256")
    return keccak256(
        PAYMENT_TAG
        + chain_id.to_bytes(WORD_BYTES, "big")
        + bytes(WORD_BYTES - ADDRESS_BYTES)
        + vault
        + blob_header_hash
    )


def sign_blob_payment(
    account: LocalAccount | bytes, chain_id: int, vault: bytes, header: BlobHeader
) -> bytes:
    """The account's 65-byte signature over ``header``'s payment digest.

    ``account`` is an eth_account ``LocalAccount`` or a 32-byte private key; it should be the
    header's ``account`` (the node refuses any other signer).
    """
    digest = Hash32(compute_payment_digest(chain_id, vault, header.compute_hash()))
    if isinstance(account, bytes):
        return bytes(Account.unsafe_sign_hash(digest, account).signature)
    return bytes(account.unsafe_sign_hash(digest).signature)


def recover_payer(signature: bytes, chain_id: int, vault: bytes, blob_header_hash: bytes) -> bytes:
    """The raw 20-byte address that signed a blob's payment digest.

    Raises :class:`~operator_node.protocol.errors.BadSignature` for a signature that is
    malformed or does not recover; any valid signature recovers to some address, which the
    caller compares with the header's account.
    """
    digest = compute_payment_digest(chain_id, vault, blob_header_hash)
    return recover_signer_bytes(signature, digest)
