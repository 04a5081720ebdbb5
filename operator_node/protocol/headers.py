"""Blob and batch headers and the hashes the chain and the nodes agree on.

Hashes (all keccak256; ABI encoding as Solidity's ``abi.encode`` with the fields as separate
arguments, i.e. one head/tail tuple, no leading offset word):

- chunk leaf = keccak256(chunk bytes); blob commitment = Merkle root over the n chunk leaves.
- blob header hash = keccak256(abi.encode(bytes32 commitment, uint32 dataLength, uint16 k,
  uint16 n, uint8 code, uint8 fingerprint, bytes32 fingerprintHash, uint32 chunkLength,
  (uint8 quorumNumber, uint8 adversaryThresholdPercentage, uint8 confirmationThresholdPercentage)[]
  quorums, address account)) for a blob without payment metadata, and with it the same tuple
  followed by (uint8 paymentKind, uint64 paymentTimestamp, uint256 cumulativePayment) (see
  :class:`Payment`), so the batch root commits to what the account pays and how. code names
  the erasure code: 0 for Reed-Solomon over GF(2^8) (n <= 255), 1 for GF(2^16) (n <= 65,535);
  fingerprint names the encoding-validity profile: 0 for none, 1 for FP-v1 (GF(2^8) only), whose
  fingerprintHash is keccak256 of the data chunks' fingerprint rows Z (see ``protocol.encoding``);
  for profile 0 it is 32 zero bytes.
- batch root = Merkle root over leaves keccak256(blob header hash), in blob index order.
- batch header hash = keccak256(abi.encode(bytes32 batchRoot, uint32 referenceBlockNumber)), the
  "reduced batch header" hash that operators sign and the service manager checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from operator_node.protocol.errors import BadProof, InvalidBlob, InvalidSecurityParams
from operator_node.protocol.hashes import WORD_BYTES, Bytes, keccak256, keccak256_many
from operator_node.protocol.merkle import MerkleTree, compute_merkle_root, compute_merkle_tree

# The erasure codes a blob header can name, and the most chunks each allows: Reed-Solomon has at
# most as many distinct evaluation points as its field has non-zero elements.
CODE_GF8 = 0
CODE_GF16 = 1
MAX_CHUNKS_BY_CODE = {CODE_GF8: 255, CODE_GF16: 65535}
CODE_FIELD_BITS = {CODE_GF8: 8, CODE_GF16: 16}
MAX_CHUNKS_PER_BLOB = max(MAX_CHUNKS_BY_CODE.values())
# The encoding-validity profiles a blob header can name, and the codes each applies to.
PROFILE_NONE = 0
PROFILE_FP1 = 1
PROFILE_CODES = {PROFILE_NONE: (CODE_GF8, CODE_GF16), PROFILE_FP1: (CODE_GF8,)}
NO_FINGERPRINT = bytes(32)
# Bytes of one fingerprint row: an FP-v1 blob's Z is k of them (protocol.encoding).
FINGERPRINT_ROW = 64
ADDRESS_BYTES = 20
UINT8_MAX = 0xFF
UINT16_MAX = 0xFFFF
UINT32_MAX = 0xFFFF_FFFF

BLOB_HEADER_ABI_TYPES = (
    "bytes32",
    "uint32",
    "uint16",
    "uint16",
    "uint8",
    "uint8",
    "bytes32",
    "uint32",
    "(uint8,uint8,uint8)[]",
    "address",
)
PAYMENT_ABI_TYPES = ("uint8", "uint64", "uint256")
BATCH_HEADER_ABI_TYPES = ("bytes32", "uint32")
# How a blob is paid for: from the account's reservation, or on demand from its deposit.
PAYMENT_RESERVATION = 1
PAYMENT_ON_DEMAND = 2
PAYMENT_KINDS = {PAYMENT_RESERVATION: "reservation", PAYMENT_ON_DEMAND: "on_demand"}
UINT64_MAX = (1 << 64) - 1
UINT256_MAX = (1 << 256) - 1


@dataclass(frozen=True)
class QuorumParams:
    """One quorum of a blob with its security thresholds in percent.

    Construction raises :class:`InvalidBlob` for a quorum number outside uint8 and
    :class:`InvalidSecurityParams` unless confirmation ≤ 100, adversary > 0 and
    confirmation - adversary ≥ 10.
    """

    quorum_number: int
    adversary_threshold: int
    confirmation_threshold: int

    def __post_init__(self) -> None:
        if not 0 <= self.quorum_number <= UINT8_MAX:
            raise InvalidBlob(f"quorum number {self.quorum_number} is not a uint8")
        adv, conf = self.adversary_threshold, self.confirmation_threshold
        if not (adv > 0 and conf <= 100 and conf - adv >= 10):
            raise InvalidSecurityParams(
                f"quorum {self.quorum_number}: adversary {adv}% / confirmation {conf}% must satisfy"
                " confirmation <= 100, adversary > 0, confirmation - adversary >= 10"
            )

    @property
    def margin_percent(self) -> int:
        """confirmation - adversary = 100·gamma: the stake share that must be able to rebuild."""
        return self.confirmation_threshold - self.adversary_threshold


@dataclass(frozen=True)
class Payment:
    """How the blob's account pays for it, signed by that account (``protocol.payment``).

    ``kind`` is PAYMENT_RESERVATION or PAYMENT_ON_DEMAND; ``timestamp`` nanoseconds since the
    epoch when the account signed (it bounds how long the signature is good for, and decides
    whether a reservation was active); ``cumulative_payment`` the wei the account has paid on
    demand so far, this blob included (0 for a reservation). Construction raises
    :class:`InvalidBlob` for an unknown kind, a zero or oversized timestamp, a cumulative
    payment outside uint256, or one that does not fit the kind (zero iff reservation).
    """

    kind: int
    timestamp: int
    cumulative_payment: int = 0

    def __post_init__(self) -> None:
        if self.kind not in PAYMENT_KINDS:
            raise InvalidBlob(f"unknown payment kind {self.kind} (1 reservation, 2 on demand)")
        if not 0 < self.timestamp <= UINT64_MAX:
            raise InvalidBlob(f"payment timestamp {self.timestamp} is not a positive uint64")
        if not 0 <= self.cumulative_payment <= UINT256_MAX:
            raise InvalidBlob("the cumulative payment is not a uint256")
        if (self.kind == PAYMENT_RESERVATION) != (self.cumulative_payment == 0):
            raise InvalidBlob(
                "a reservation blob carries no cumulative payment and an on-demand blob one "
                f"above zero, got kind {self.kind} with {self.cumulative_payment}"
            )

    @property
    def kind_name(self) -> str:
        """``reservation`` or ``on_demand``."""
        return PAYMENT_KINDS[self.kind]


@dataclass(frozen=True)
class BlobHeader:
    """What a blob is: its commitment, shape, erasure code, encoding-validity profile, quorums
    and paying account, and how that account pays (``payment``: None for a blob without payment
    metadata, which a node that meters payments refuses).

    ``account`` is the raw 20-byte address; ``code`` is CODE_GF8 or CODE_GF16; ``fingerprint``
    is PROFILE_NONE or PROFILE_FP1 (GF(2^8) only) and ``fingerprint_hash`` keccak256 of the
    blob's fingerprint rows (32 zero bytes for PROFILE_NONE). Construction raises
    :class:`InvalidBlob` unless the code and profile are known and fit each other, 1 ≤ k ≤ n ≤
    its most chunks (255 or 65,535), 1 ≤ data_length ≤ k·chunk_length, every field fits its ABI
    type, and the quorums are non-empty and strictly increasing by number. Whether the code has
    this exact (k, n), the canonical chunk length and the overhead bound are checked by
    :func:`~operator_node.protocol.coding.check_coding`; whether n covers every quorum's
    assignment, by :mod:`~operator_node.protocol.assignment`.
    """

    commitment: bytes
    data_length: int
    k: int
    n: int
    chunk_length: int
    quorums: tuple[QuorumParams, ...]
    account: bytes
    code: int = CODE_GF8
    fingerprint: int = PROFILE_NONE
    fingerprint_hash: bytes = NO_FINGERPRINT
    payment: Payment | None = None

    def __post_init__(self) -> None:
        if len(self.commitment) != WORD_BYTES or len(self.account) != ADDRESS_BYTES:
            raise InvalidBlob("blob commitment must be 32 bytes and account 20 bytes")
        top = MAX_CHUNKS_BY_CODE.get(self.code)
        if top is None:
            raise InvalidBlob(f"unknown erasure code {self.code} (known: 0 GF(2^8), 1 GF(2^16))")
        codes = PROFILE_CODES.get(self.fingerprint)
        if codes is None:
            raise InvalidBlob(
                f"unknown encoding-validity profile {self.fingerprint} (known: 0 none, 1 FP-v1)"
            )
        if self.code not in codes:
            raise InvalidBlob(
                f"profile {self.fingerprint} (FP-v1) is defined for code 0 (GF(2^8)) only, "
                f"not code {self.code}"
            )
        if len(self.fingerprint_hash) != WORD_BYTES or (
            self.fingerprint == PROFILE_NONE and self.fingerprint_hash != NO_FINGERPRINT
        ):
            raise InvalidBlob("the fingerprint hash must be 32 bytes, all zero for profile 0")
        if not 1 <= self.k <= self.n <= top:
            raise InvalidBlob(
                f"need 1 <= k <= n <= {top} for code {self.code}, got k={self.k} n={self.n}"
            )
        if not 1 <= self.chunk_length <= UINT32_MAX:
            raise InvalidBlob(f"chunk length {self.chunk_length} is not in 1..2^32-1")
        if not 1 <= self.data_length <= min(UINT32_MAX, self.k * self.chunk_length):
            raise InvalidBlob(
                f"data length {self.data_length} does not fit {self.k} chunks of "
                f"{self.chunk_length} bytes"
            )
        numbers = [q.quorum_number for q in self.quorums]
        if not numbers or any(a >= b for a, b in pairwise(numbers)):
            raise InvalidBlob(f"quorums must be non-empty and strictly increasing, got {numbers}")

    def compute_hash(self) -> bytes:
        """Return the blob header hash (see the module docstring for the exact encoding).

        Computed once per header object (it is immutable): the node hashes a header when it
        meters its payment and again for the batch root. The ABI words are written here directly
        (every field was range-checked at construction): eth_abi's general encoder cost ~40 us
        per header on the request path.
        """
        cached: bytes | None = self.__dict__.get("_hash")
        if cached is None:
            cached = self._hash_words()
            object.__setattr__(self, "_hash", cached)
        return cached

    def _hash_words(self) -> bytes:
        words = [
            self.commitment,
            _uint_word(self.data_length),
            _uint_word(self.k),
            _uint_word(self.n),
            _uint_word(self.code),
            _uint_word(self.fingerprint),
            self.fingerprint_hash,
            _uint_word(self.chunk_length),
            _uint_word(self._head_words() * WORD_BYTES),  # offset of the quorums' tail
            bytes(WORD_BYTES - ADDRESS_BYTES) + self.account,
        ]
        if self.payment is not None:
            words += (
                _uint_word(self.payment.kind),
                _uint_word(self.payment.timestamp),
                _uint_word(self.payment.cumulative_payment),
            )
        words.append(_uint_word(len(self.quorums)))
        for q in self.quorums:
            words += (
                _uint_word(q.quorum_number),
                _uint_word(q.adversary_threshold),
                _uint_word(q.confirmation_threshold),
            )
        return keccak256(b"".join(words))

    def _head_words(self) -> int:
        extra = len(PAYMENT_ABI_TYPES) if self.payment is not None else 0
        return len(BLOB_HEADER_ABI_TYPES) + extra


@dataclass(frozen=True)
class BatchHeader:
    """The batch root over the batch's blob headers and the block whose operator state applies.

    Construction raises :class:`InvalidBlob` for a root that is not 32 bytes or a block number
    outside uint32.
    """

    batch_root: bytes
    reference_block_number: int

    def __post_init__(self) -> None:
        if len(self.batch_root) != WORD_BYTES:
            raise InvalidBlob("batch root must be 32 bytes")
        if not 0 <= self.reference_block_number <= UINT32_MAX:
            raise InvalidBlob(f"reference block {self.reference_block_number} is not a uint32")

    def compute_hash(self) -> bytes:
        """Return keccak256(abi.encode(bytes32 batchRoot, uint32 referenceBlockNumber))."""
        return keccak256(self.batch_root + _uint_word(self.reference_block_number))


def _uint_word(value: int) -> bytes:
    """An unsigned integer as one 32-byte ABI word (the caller has checked its range)."""
    return value.to_bytes(WORD_BYTES, "big")


def compute_chunk_tree(chunks: Sequence[Bytes]) -> MerkleTree:
    """Return the Merkle tree over all n chunks of a blob (its root is the blob commitment)."""
    return compute_merkle_tree(keccak256_many(chunks))


def compute_blob_commitment(chunks: Sequence[Bytes]) -> bytes:
    """Return the blob commitment: the Merkle root over the leaves of all n chunks, in order."""
    return compute_chunk_tree(chunks).root


def compute_blob_leaf(blob_header: BlobHeader) -> bytes:
    """Return the batch-tree leaf of a blob header: keccak256(blob header hash)."""
    return keccak256(blob_header.compute_hash())


def compute_batch_tree(blob_headers: Sequence[BlobHeader]) -> MerkleTree:
    """Return the batch tree over ``blob_headers`` (at least one), in blob index order."""
    return compute_merkle_tree([compute_blob_leaf(header) for header in blob_headers])


def compute_batch_root(blob_headers: Sequence[BlobHeader]) -> bytes:
    """Return the batch root over ``blob_headers`` (at least one), in blob index order."""
    return compute_merkle_root([compute_blob_leaf(header) for header in blob_headers])


def validate_batch_root(batch_header: BatchHeader, blob_headers: Sequence[BlobHeader]) -> None:
    """Check that ``blob_headers`` are exactly the batch's blobs; raise :class:`BadProof` if not."""
    if compute_batch_root(blob_headers) != batch_header.batch_root:
        raise BadProof("the blob headers sent do not hash to the batch root")
