"""The one table that turns the node's exceptions into HTTP status codes."""

from __future__ import annotations

from aiohttp import web

from operator_node.api.responses import error_response
from operator_node.api.upload import IncompleteBody, NodeStopping, UploadTimeout
from operator_node.dispersal.errors import ChainUnavailable, StaleReferenceBlock
from operator_node.errors import OperatorNodeError
from operator_node.logging import get_logger
from operator_node.payments.errors import (
    PaymentLimitExceeded,
    PaymentRefused,
    PaymentsBusy,
    PaymentsUnavailable,
    PaymentTimestampRejected,
)
from operator_node.protocol.errors import (
    BadProof,
    BadSignature,
    DisperserNotAllowed,
    InvalidBlob,
    InvalidOperatorState,
    MalformedRequest,
    ProtocolError,
    ReplayGuardFull,
    ReplayRejected,
    RequestTooLarge,
    WrongAssignment,
)
from operator_node.store.errors import StoreError, StoreFullError

# Most specific first: the first matching class wins. Protocol errors bring their own machine
# code (``exc.code``); the others get the code written here.
_STATUS: tuple[tuple[type[OperatorNodeError], int, str], ...] = (
    (RequestTooLarge, 413, ""),
    (MalformedRequest, 400, ""),
    (BadSignature, 401, ""),
    (DisperserNotAllowed, 403, ""),
    (ReplayRejected, 409, ""),
    (ReplayGuardFull, 503, ""),
    (PaymentLimitExceeded, 429, ""),
    (PaymentRefused, 403, ""),
    (PaymentTimestampRejected, 422, ""),
    (PaymentsUnavailable, 503, ""),
    (PaymentsBusy, 503, ""),
    (WrongAssignment, 422, ""),
    (BadProof, 422, ""),
    (StaleReferenceBlock, 422, ""),
    (InvalidOperatorState, 503, ""),
    (InvalidBlob, 422, ""),
    (ChainUnavailable, 503, ""),
    (UploadTimeout, 408, ""),
    (IncompleteBody, 400, ""),
    (NodeStopping, 503, ""),
    (ProtocolError, 400, ""),
    (StoreFullError, 507, "store_full"),
    (StoreError, 503, "store_unavailable"),
)

# What a client is told of the node's own failures: their messages name local paths and sizes,
# which are the operator's business (they go to the log), not the remote side's.
_PUBLIC_MESSAGES = {
    "store_full": "this node's chunk store is full; it accepts batches again once old ones expire",
    "store_unavailable": "this node's chunk store is unavailable",
    "internal_error": "internal error",
}
_log = get_logger("api")


def refusal_codes() -> set[str]:
    """Every error code :func:`classify` can give: the table's own, and the ``code`` of each
    class in it and of their subclasses (those imported so far; the node imports them all)."""
    codes = {code for _, _, code in _STATUS if code} | {"internal_error"}
    pending: list[type] = [cls for cls, _, code in _STATUS if not code]
    while pending:
        cls = pending.pop()
        code = cls.__dict__.get("code")
        if isinstance(code, str):
            codes.add(code)
        pending.extend(cls.__subclasses__())
    return codes


def classify(exc: OperatorNodeError) -> tuple[int, str]:
    """The HTTP status and error code for ``exc``; an unlisted class is a 500 (a bug)."""
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code or str(getattr(exc, "code", "error"))
    return 500, "internal_error"


def is_node_failure(code: str) -> bool:
    """Whether ``code`` is the node's own failure, which :func:`to_http_error` logs in full."""
    return code in _PUBLIC_MESSAGES


def to_http_error(exc: OperatorNodeError) -> web.Response:
    """The JSON refusal for ``exc``.

    A refusal for the node's own state (the store, an internal error) is logged as a warning
    with its full message, and the client gets a fixed one; a refusal of the request itself
    echoes the message, which says what was wrong with it.
    """
    status, code = classify(exc)
    public = _PUBLIC_MESSAGES.get(code)
    if isinstance(exc, PaymentLimitExceeded):
        # The account's limit: which one, and when the batch would fit.
        extra = {"limit": exc.payment_limit, "retry_after": round(exc.retry_after, 3)}
        response = error_response(status, code, str(exc), extra)
        response.headers["Retry-After"] = exc.retry_after_header
        return response
    if public is None:
        return error_response(status, code, str(exc))
    _log.warning("request_refused", status=status, error=code, message=str(exc))
    return error_response(status, code, public)
