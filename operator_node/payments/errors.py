"""Why a blob's payment is refused. Each class has a stable ``code``; ``api.errors`` maps them
to HTTP: 401 for a signature that is not the account's, 403 for what the vault does not pay for,
422 for a timestamp outside the window, 429 (with ``Retry-After``) for a full bucket, 503 while
the vault has not been read.

These are the account's limits, not the node's: the node's own-limit alerts leave them out.
"""

from __future__ import annotations

import math

from operator_node.protocol.errors import BadSignature, ProtocolError


class PaymentRefused(ProtocolError):
    """The vault does not pay for a blob of the batch (403)."""

    code = "payment_refused"


class PaymentRequired(PaymentRefused):
    """A blob carries no payment, and this node meters payments (403)."""

    code = "payment_required"


class BadAccountSignature(BadSignature):
    """A blob's payment is not signed by its account (401)."""

    code = "bad_account_signature"


class NoReservation(PaymentRefused):
    """A reservation blob whose account has no reservation (403)."""

    code = "no_reservation"


class ReservationInactive(PaymentRefused):
    """A reservation blob signed outside its reservation's [start, end] (403)."""

    code = "reservation_inactive"


class QuorumNotReserved(PaymentRefused):
    """A reservation blob for a quorum its reservation does not cover (403)."""

    code = "quorum_not_reserved"


class QuorumNotOnDemand(PaymentRefused):
    """An on-demand blob for a quorum the vault takes no on-demand payment for (403)."""

    code = "quorum_not_on_demand"


class InsufficientDeposit(PaymentRefused):
    """An on-demand blob whose cumulative payment exceeds the account's deposit, or is less
    than the blob costs (403)."""

    code = "insufficient_deposit"


class BlobExceedsLimit(PaymentRefused):
    """A blob larger than its bucket could ever take (overfill off, or the on-demand cap)
    (403)."""

    code = "blob_exceeds_limit"


class PaymentTimestampRejected(ProtocolError):
    """A blob's payment timestamp is too far from this node's clock (422)."""

    code = "payment_timestamp"


class PaymentLimitExceeded(ProtocolError):
    """A bucket is full: the account's reservation for a quorum, or the global on-demand rate
    (429). ``retry_after`` is the seconds until the batch would fit; ``payment_limit`` names
    the limit ("reservation" or "on_demand")."""

    code = "payment_limit"

    def __init__(self, message: str, *, retry_after: float, payment_limit: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.payment_limit = payment_limit

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class ReservationExhausted(PaymentLimitExceeded):
    """An (account, quorum) reservation bucket is full (429)."""

    code = "reservation_exhausted"


class OnDemandExhausted(PaymentLimitExceeded):
    """The global on-demand bucket is full (429)."""

    code = "on_demand_exhausted"


class PaymentsUnavailable(ProtocolError):
    """The payment vault has not been read yet (503): nothing can be metered."""

    code = "payments_unavailable"


class PaymentsBusy(ProtocolError):
    """The set of blobs already charged is full (503): retry shortly."""

    code = "payments_busy"
