"""Errors of the protocol layer: every way a message, a blob or a signature can be refused.

Each class carries a stable machine ``code`` (the ``"error"`` field of a refusal's JSON body);
``api/`` maps classes to HTTP statuses, nothing in this package does. The suggested status is
noted on each class for the reader.
"""

from __future__ import annotations

from operator_node.errors import OperatorNodeError


class ProtocolError(OperatorNodeError):
    """Base of every protocol refusal. ``code`` names the refusal for machines."""

    code = "protocol"


class MalformedRequest(ProtocolError):
    """A message does not parse canonically (400).

    Raised for StoreChunks bodies and retrieval replies alike: truncation, a length or count that
    disagrees with the bytes present, trailing bytes, a wrong magic or version, indices that are
    duplicated, unsorted or out of range, or values that do not fit their field.
    """

    code = "malformed"


class RequestTooLarge(MalformedRequest):
    """A message, or a count or length declared inside it, exceeds a configured limit (413).

    Raised before anything proportional to the declared size is allocated. ``limit`` names the
    :class:`~operator_node.protocol.wire.WireLimits` field exceeded (e.g. ``max_header_bytes``),
    so that the node can tell its operator which of its own limits refused the request.
    """

    code = "too_large"

    def __init__(self, message: str, *, limit: str = "") -> None:
        super().__init__(message)
        self.limit = limit


class InvalidBlob(ProtocolError):
    """A blob header is well formed on the wire but describes no valid blob (422).

    For example k > n, n above 255, a data length that does not fit k chunks, or quorums that are
    empty, unsorted or repeated.
    """

    code = "invalid_blob"


class InvalidSecurityParams(InvalidBlob):
    """A quorum's thresholds are not valid security parameters (422).

    Valid iff confirmation ≤ 100, adversary > 0 and confirmation - adversary ≥ 10 (percent).
    """

    code = "bad_security_params"


class InvalidEncoding(InvalidBlob):
    """The chunks sent do not lie on the codeword the blob's fingerprints commit to (422).

    Also a blob of profile FP-v1 whose fingerprint rows Z have the wrong length, non-zero padding
    or a hash other than the header's, and a blob without fingerprints at a node that requires
    them. See :mod:`~operator_node.protocol.encoding`.
    """

    code = "invalid_encoding"


class UnassignableBlob(InvalidBlob):
    """The blob cannot be assigned to a quorum's operators (422).

    The quorum's stake-weighted assignment needs more than the blob's n chunks, the quorum has no
    stake at all, or the operator state of one of the blob's quorums is missing.
    """

    code = "unassignable"


class InvalidOperatorState(ProtocolError):
    """Operator state handed to the assignment is inconsistent (500: a bug upstream).

    Operator ids that are not 32 bytes or repeat within a quorum, or a negative stake.
    """

    code = "bad_operator_state"


class WrongAssignment(ProtocolError):
    """The chunks sent for a blob are not exactly the chunks this operator is assigned (422)."""

    code = "wrong_assignment"


class BadProof(ProtocolError):
    """A Merkle proof or a root does not check out (422).

    A chunk that is not in the blob's commitment, blob headers whose root is not the batch root, or
    a retrieval reply whose batch header or blob header proof does not match what was asked for.
    """

    code = "bad_proof"


class BadSignature(ProtocolError):
    """The disperser's signature is missing, unparsable or does not recover to an address (401)."""

    code = "bad_signature"


class DisperserNotAllowed(ProtocolError):
    """The signature recovers to an address that is not on the node's disperser allow-list (403)."""

    code = "forbidden"


class ReplayRejected(ProtocolError):
    """The request's timestamp is outside the replay window, or its digest was seen before (409)."""

    code = "replay"


class ReplayGuardFull(ProtocolError):
    """The replay guard holds its maximum number of live entries and cannot admit more (503).

    Transient: entries leave as their timestamps fall out of the window.
    """

    code = "overloaded"
