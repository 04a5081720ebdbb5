"""The disperser: encode a blob, send each operator its chunks, check and aggregate the
signatures, and confirm the batch on chain.

One blob per batch here (the node and the protocol take many; batching several callers' blobs is
a disperser service's job). Steps, each timed in the result:

1. ``state``: the chain head is the reference block; read the quorums' operator state there;
2. ``encode``: n = the smallest count the stake-weighted assignment needs; Reed-Solomon encode
   and commit (keccak Merkle root over the chunks);
3. ``send``: every operator gets exactly its chunks, concurrently, at its socket's dispersal
   port (``host:dispersal;retrieval``, or the one port of ``host:port``: see
   :mod:`operator_node.sockets`), with retries for transport errors and 5xx answers (each try
   signed afresh: the node's replay guard refuses repeats). An operator that answers 429 (the
   paying account's reservation, or the on-demand rate, is used up there) gets the same body
   again after its ``Retry-After``, for up to ``max_payment_wait`` seconds: the blob is not
   charged twice, since the node charges a blob header once;
4. ``verify``: all signatures on the batch header hash are checked in one batch verification
   (two pairings); if that fails, one by one, and bad signers count as non-signers. A quorum
   whose signed stake is below its confirmation threshold stops the dispersal here
   (:class:`InsufficientSignatures`): the chain would revert ``confirmBatch``, so nothing is sent;
5. ``confirm``: ``ServiceManager.confirmBatch`` with the aggregate signature and the index hints
   ``OperatorStateRetriever.getCheckSignaturesIndices`` gives for the reference block.

With a ``payer``, every blob names that account and carries its payment (from its reservation,
or on demand from its deposit in the AVS's payment vault), signed by it (``protocol.payment``);
without one, blobs carry no payment, which nodes that meter payments refuse.

A confirmed dispersal may still be partial: the result says which operators did not sign and
why, and :attr:`DispersalResult.complete` whether every one did. ``progress`` hears of the
``send`` step in bytes written to the operators, as they go out.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from eth_account.signers.local import LocalAccount

from operator_node.chain.client import ChainConnection
from operator_node.chain.confirm import ChainBatchHeader, Signature, build_signature_witness
from operator_node.chain.reader import ChainReader
from operator_node.chain.writer import ConfirmedBatch
from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.crypto.bls import batch_verify, verify
from operator_node.crypto.bn254 import G1Point, G2Point
from operator_node.crypto.errors import InvalidPointError
from operator_node.erasure import cached_codec, field_available
from operator_node.errors import OperatorNodeError
from operator_node.payments.meter import billable_symbols
from operator_node.payments.vault import find_vault, read_global_params
from operator_node.protocol.assignment import OperatorStakes, compute_min_chunk_count
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.coding import (
    DEFAULT_MAX_OVERHEAD,
    Code,
    UncodableBlob,
    choose_coding,
)
from operator_node.protocol.errors import InvalidBlob
from operator_node.protocol.headers import (
    CODE_FIELD_BITS,
    PAYMENT_ON_DEMAND,
    PAYMENT_RESERVATION,
    Payment,
    QuorumParams,
)
from operator_node.protocol.limits import (
    DEFAULT_MAX_BLOB_SIZE,
    DEFAULT_MIN_MARGIN,
    check_blob_limits,
)
from operator_node.protocol.wire import CONTENT_TYPE, encode_store_chunks
from operator_node.sockets import SocketError, parse_socket

STORE_CHUNKS_PATH = "/v1/store-chunks"
Progress = Callable[[str, int, int], None]
"""A progress hook: ``(step, bytes done, bytes in total)``."""
_PROGRESS_SLICE = 256 * 1024  # bytes written between two progress reports
PAYMENT_CHOICES = {"reservation": PAYMENT_RESERVATION, "on-demand": PAYMENT_ON_DEMAND}
# The refusals that mean the account's limit is used up for now (429 with Retry-After).
PAYMENT_LIMITS = ("reservation_exhausted", "on_demand_exhausted")


# The codes this disperser can encode: GF(2^16) needs its C extension.
_CODES = (Code.GF8, Code.GF16) if field_available(16) else (Code.GF8,)


class DispersalError(OperatorNodeError):
    """The blob could not be dispersed or confirmed; the message says at which step."""


class InsufficientSignatures(DispersalError):
    """A quorum's signed stake is below its confirmation threshold: the batch was not confirmed
    and no transaction was sent. ``replies`` and ``signed_stake`` say who signed and who did
    not, and why."""

    def __init__(
        self,
        message: str,
        replies: Sequence[OperatorReply],
        signed_stake: Mapping[int, tuple[int, int]],
        thresholds: Mapping[int, int],
    ) -> None:
        super().__init__(message)
        self.replies = tuple(replies)
        self.signed_stake = dict(signed_stake)
        self.thresholds = dict(thresholds)


@dataclass(frozen=True)
class OperatorReply:
    """What one operator answered (a signature, or why not)."""

    operator_id: bytes
    socket: str
    chunks: int
    signature: bytes | None = None
    error: str = ""


@dataclass(frozen=True)
class DispersalResult:
    """A confirmed dispersal."""

    batch_header_hash: bytes
    blob_index: int
    batch_id: int
    reference_block: int
    k: int
    n: int
    replies: tuple[OperatorReply, ...]
    signed_stake: dict[int, tuple[int, int]]
    timings: dict[str, float] = field(default_factory=dict)
    code: int = 0
    """The blob's erasure code: 0 GF(2^8), 1 GF(2^16) (see protocol.coding.Code)."""
    thresholds: dict[int, int] = field(default_factory=dict)
    """Each quorum's confirmation threshold, percent of its stake."""
    confirm_tx: str = ""
    """The ``confirmBatch`` transaction, 0x hex."""
    fingerprint: int = 0
    """The blob's encoding-validity profile: 0 none, 1 FP-v1 (see protocol.encoding)."""
    payer: str = ""
    """The account that paid for the blob (checksummed), "" for a blob without payment."""
    payment: str = ""
    """How it paid: "reservation", "on_demand", or "" without payment."""

    @property
    def complete(self) -> bool:
        """Every operator sent to signed (a confirmed batch may be signed by fewer)."""
        return all(reply.signature is not None for reply in self.replies)


class Disperser:
    """Disperses blobs through the operators registered on the chain of ``connection``.

    ``connection`` must carry the disperser's account (it signs requests and sends
    ``confirmBatch``, which only allowed dispersers may call).
    """

    def __init__(
        self,
        connection: ChainConnection,
        account: LocalAccount,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        codec_backend: str = "auto",
        max_overhead: float = DEFAULT_MAX_OVERHEAD,
        max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
        min_margin: int = DEFAULT_MIN_MARGIN,
        payer: LocalAccount | None = None,
        payment: str = "reservation",
        payment_vault: str = "",
        max_payment_wait: float = 60.0,
    ) -> None:
        """``payer`` pays for the blobs, ``payment`` says how ("reservation" or "on-demand"),
        from the vault the service manager names (or ``payment_vault``)."""
        if payment not in PAYMENT_CHOICES:
            raise ValueError(f"payment must be one of {PAYMENT_CHOICES}")
        self._payer = payer
        self._payment_kind = PAYMENT_CHOICES[payment]
        self._payment_vault = payment_vault
        self._max_payment_wait = max_payment_wait
        self._paid_so_far = 0  # wei signed as on-demand cumulative payment by this client
        self._connection = connection
        self._max_blob_size = max_blob_size
        self._min_margin = min_margin
        self._account = account
        self._timeout = timeout
        self._retries = retries
        self._codec_backend = codec_backend
        self._max_overhead = max_overhead

    async def disperse(
        self,
        data: bytes,
        *,
        quorums: Sequence[int] = (0,),
        k: int | None = None,
        n: int | None = None,
        adversary: int = 25,
        confirmation: int = 50,
        progress: Progress | None = None,
    ) -> DispersalResult:
        """Disperse ``data`` and confirm it; raises :class:`DispersalError` (or a chain error).

        With ``k`` left out, the code and its shape are chosen from the operator state to send
        the fewest bytes (:func:`~operator_node.protocol.coding.choose_coding`, within
        ``max_overhead`` x 1/gamma); with ``k`` given, n follows from the state (or is ``n``, if
        that is more) and the code is GF(2^8) if n fits it, else GF(2^16). Chunks beyond what
        the assignment gives out are parity that no operator stores.
        """
        if not data:
            raise DispersalError("cannot disperse an empty blob")
        params = tuple(QuorumParams(q, adversary, confirmation) for q in sorted(set(quorums)))
        try:  # the nodes would refuse it: say so before any work
            check_blob_limits(
                len(data), params, max_blob_size=self._max_blob_size, min_margin=self._min_margin
            )
        except InvalidBlob as exc:
            raise DispersalError(str(exc)) from None
        timings: dict[str, float] = {}
        clock = _Stopwatch(timings)
        reader = await self._connection.get_reader()
        with clock("state"):
            reference_block = await reader.get_current_block()
            states = await _fetch_states(reader, [p.quorum_number for p in params], reference_block)
        with clock("encode"):
            encoded, n = await self._encode(data, (k, n), params, states)
            batch = prepare_batch([await self._pay(reader, encoded)], states, reference_block)
        with clock("send"):
            replies = await self._send_all(reader, batch, progress)
        with clock("verify"):
            signatures = await self._verified_signatures(reader, batch, replies, reference_block)
        replies = _mark_rejected(replies, signatures)
        signed_stake = _signed_stake(states, signatures)
        thresholds = {p.quorum_number: p.confirmation_threshold for p in params}
        validate_signed_stake(signed_stake, thresholds, replies)
        with clock("confirm"):
            confirmed = await self._confirm(reader, batch, params, signatures)
        blob = batch.blobs[0].header
        return DispersalResult(
            batch.header_hash, 0, confirmed.batch_id, reference_block, blob.k, n, tuple(replies),
            signed_stake, timings, blob.code, thresholds,
            "0x" + bytes(confirmed.receipt["transactionHash"]).hex(), blob.fingerprint,
            self._payer.address if self._payer is not None else "",
            blob.payment.kind_name if blob.payment is not None else "",
        )  # fmt: skip

    async def _encode(
        self,
        data: bytes,
        shape: tuple[int | None, int | None],
        params: tuple[QuorumParams, ...],
        states: Mapping[int, OperatorStakes],
    ) -> tuple[EncodedBlob, int]:
        code, k, n = self._coding(len(data), shape, params, states)
        codec = cached_codec(k, n, self._codec_backend, CODE_FIELD_BITS[code])
        chunks = await asyncio.to_thread(codec.encode, data)
        account = bytes.fromhex(self._account.address[2:])
        blob = await asyncio.to_thread(
            lambda: EncodedBlob.from_chunks(
                chunks, data_length=len(data), k=k, quorums=params, account=account, code=code
            )
        )
        return blob, n

    async def _pay(self, reader: ChainReader, blob: EncodedBlob) -> EncodedBlob:
        """The blob paid for by the payer (the same blob without one)."""
        if self._payer is None:
            return blob
        vault = await find_vault(reader.contracts, self._payment_vault or None)
        cumulative = 0
        if self._payment_kind == PAYMENT_ON_DEMAND:
            params = await read_global_params(vault)
            symbols = billable_symbols(blob.header, params.min_symbols_per_blob)
            self._paid_so_far += symbols * params.price_per_symbol
            cumulative = self._paid_so_far
        payment = Payment(self._payment_kind, time.time_ns(), cumulative)
        vault_address = bytes.fromhex(str(vault.address)[2:])
        return blob.paid(payment, self._payer, self._connection.config.chain_id, vault_address)

    def _coding(
        self,
        data_length: int,
        shape: tuple[int | None, int | None],
        params: tuple[QuorumParams, ...],
        states: Mapping[int, OperatorStakes],
    ) -> tuple[int, int, int]:
        """(code, k, n) for this blob: chosen when k is None, else derived from k (and n)."""
        k, wanted_n = shape
        if k is None:
            if wanted_n is not None:
                raise DispersalError("n can only be given with k")
            try:
                coding = choose_coding(
                    data_length, params, states, max_overhead=self._max_overhead, codes=_CODES
                )
            except UncodableBlob as exc:
                raise DispersalError(str(exc)) from None
            return int(coding.code), coding.k, coding.n
        n = max(compute_min_chunk_count(k, params, states), k + 1, wanted_n or 0)
        for code in _CODES:
            if code.supports(k, n):
                return int(code), k, n
        raise DispersalError(
            f"k={k} needs n={n} chunks for this stake distribution, more than either code"
            " supports; lower k or leave it out"
        )

    async def _send_all(
        self, reader: ChainReader, batch: PreparedBatch, progress: Progress | None
    ) -> list[OperatorReply]:
        sockets = await reader.sockets.fetch_sockets(batch.requests)
        bodies = {op: b"".join(encode_store_chunks(batch.requests[op])) for op in sockets}
        meter = _SendMeter(progress, {op: len(body) for op, body in bodies.items()})
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def send(operator_id: bytes) -> OperatorReply:
                reply = await self._send_one(
                    session,
                    sockets[operator_id],
                    operator_id,
                    batch,
                    bodies[operator_id],
                    reader.sockets.source,
                    meter,
                )
                meter.finish(operator_id)  # sent or given up on: its bytes are done with
                return reply

            return list(await asyncio.gather(*(send(op) for op in sorted(sockets))))

    async def _send_one(
        self,
        session: aiohttp.ClientSession,
        socket: str,
        operator_id: bytes,
        batch: PreparedBatch,
        body: bytes,
        socket_source: str,
        meter: _SendMeter,
    ) -> OperatorReply:
        request = batch.requests[operator_id]
        chunks = sum(len(blob.indices) for blob in request.blobs)
        if not socket:
            error = f"no socket on chain (looked in {socket_source})"
            return OperatorReply(operator_id, socket, chunks, error=error)
        try:
            url = parse_socket(socket).dispersal_url(STORE_CHUNKS_PATH)
        except SocketError as exc:
            return OperatorReply(operator_id, socket, chunks, error=f"bad socket on chain: {exc}")
        request_hash = compute_request_hash(body)
        error = ""
        attempt = 0
        deadline = time.monotonic() + self._max_payment_wait
        while attempt <= self._retries:
            headers = compute_auth_headers(
                self._account, operator_id, int(time.time()), request_hash
            )
            headers["Content-Type"] = CONTENT_TYPE
            wait = 0.2 * 2**attempt
            try:
                data = meter.payload(operator_id, body)
                async with session.post(url, data=data, headers=headers) as response:
                    answer: dict[str, Any] = await response.json(content_type=None)
                    if response.status == 200:
                        signature = bytes.fromhex(answer["signature"][2:])
                        return OperatorReply(operator_id, socket, chunks, signature)
                    error = f"{response.status} {answer.get('error')}: {answer.get('message')}"
                    if answer.get("error") in PAYMENT_LIMITS:
                        # The account's limit: worth waiting for, within the budget.
                        wait = _retry_after(response.headers.get("Retry-After"))
                        if time.monotonic() + wait > deadline:
                            error += f" (gave up: more than {self._max_payment_wait:g} s away)"
                            break
                        await asyncio.sleep(wait)
                        continue
                    if response.status < 500 or response.status == 507:
                        break
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < self._retries:  # no pause after the last try: nothing follows it
                await asyncio.sleep(wait)
            attempt += 1
        return OperatorReply(operator_id, socket, chunks, error=error)

    async def _verified_signatures(
        self,
        reader: ChainReader,
        batch: PreparedBatch,
        replies: Sequence[OperatorReply],
        reference_block: int,
    ) -> dict[bytes, Signature]:
        signed = [r for r in replies if r.signature is not None]
        if not signed:
            return {}  # validate_signed_stake says so, with every operator's reason
        keys = await fetch_pubkeys_g2(reader, reference_block)
        # Each point is parsed (and subgroup-checked) once; one that is not a point is a
        # non-signer, like a wrong signature.
        candidates = await asyncio.to_thread(_parse_signatures, signed, keys)
        if not candidates:
            raise DispersalError(f"none of the {len(signed)} signatures returned is a valid point")
        sigs = [sig.sigma for sig in candidates.values()]
        pks = [sig.pubkey_g2 for sig in candidates.values()]
        ok = await asyncio.to_thread(batch_verify, batch.header_hash, sigs, pks)
        if not ok:  # find the bad ones; they become non-signers
            for operator_id, sig in list(candidates.items()):
                if not await asyncio.to_thread(verify, sig.sigma, batch.header_hash, sig.pubkey_g2):
                    del candidates[operator_id]
        return candidates

    async def _confirm(
        self,
        reader: ChainReader,
        batch: PreparedBatch,
        params: tuple[QuorumParams, ...],
        signatures: Mapping[bytes, Signature],
    ) -> ConfirmedBatch:
        quorums = tuple(p.quorum_number for p in params)
        witness = await build_signature_witness(
            reader, quorums, batch.header.reference_block_number, signatures
        )
        header = ChainBatchHeader(
            batch.header.batch_root,
            quorums,
            tuple(p.confirmation_threshold for p in params),
            batch.header.reference_block_number,
        )
        writer = await self._connection.get_writer()
        return await writer.confirm_batch(header, witness)


def _retry_after(value: str | None) -> float:
    """Seconds from a ``Retry-After`` header (whole seconds; 1 if absent or not a number),
    with a little jitter so that clients refused together do not return together."""
    try:
        seconds = max(0.0, float(value or 1))
    except ValueError:
        seconds = 1.0
    return seconds + random.uniform(0.0, 0.25)  # noqa: S311 (jitter, not a secret)


def _parse_signatures(
    signed: Sequence[OperatorReply], keys: Mapping[bytes, bytes]
) -> dict[bytes, Signature]:
    """The signatures and registered G2 keys of the operators that answered, as points; a reply
    whose signature (or an operator whose key) is not a valid point is left out."""
    parsed: dict[bytes, Signature] = {}
    for reply in signed:
        key = keys.get(reply.operator_id)
        if key is None or reply.signature is None:
            continue
        try:
            parsed[reply.operator_id] = Signature(
                G1Point.from_bytes(reply.signature), G2Point.from_bytes(key)
            )
        except InvalidPointError:
            continue
    return parsed


def _mark_rejected(
    replies: Sequence[OperatorReply], signatures: Mapping[bytes, Signature]
) -> list[OperatorReply]:
    """The replies, those whose signature was not counted turned into failures saying so."""
    return [
        reply
        if reply.signature is None or reply.operator_id in signatures
        else replace(reply, signature=None, error="signature rejected: not a valid BLS signature")
        for reply in replies
    ]


def validate_signed_stake(
    signed_stake: Mapping[int, tuple[int, int]],
    thresholds: Mapping[int, int],
    replies: Sequence[OperatorReply],
) -> None:
    """Raise :class:`InsufficientSignatures` if a quorum's signed stake is below its threshold
    (the contract's test: signed x 100 >= total x threshold), naming the quorums short of it and
    why operators did not sign."""
    short = [
        f"quorum {q} signed {_percent(signed, total)} of its stake, below its "
        f"{thresholds[q]}% threshold"
        for q, (signed, total) in sorted(signed_stake.items())
        if signed * 100 < total * thresholds[q]
    ]
    if not short:
        return
    failures = summarize_failures(replies) or "every operator signed"
    raise InsufficientSignatures(
        f"not confirmed, no transaction sent: {'; '.join(short)} (not signed: {failures})",
        replies,
        signed_stake,
        thresholds,
    )


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0 (no stake)"


def summarize_failures(replies: Sequence[OperatorReply], examples: int = 3) -> str:
    """The operators' refusals grouped by kind (the HTTP status and code, or the exception type),
    largest group first, each with its count and one operator's full message; with hundreds of
    operators, one line per operator would bury the reason."""
    groups: dict[str, list[OperatorReply]] = {}
    for reply in replies:
        if reply.signature is None:
            kind = reply.error.split(":", 1)[0] if reply.error else "no answer"
            groups.setdefault(kind, []).append(reply)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    parts = [
        f"{len(group)} x {kind} (e.g. 0x{group[0].operator_id.hex()[:8]}: {group[0].error})"
        for kind, group in ordered[:examples]
    ]
    if len(ordered) > examples:
        parts.append(f"{sum(len(g) for _, g in ordered[examples:])} more of other kinds")
    return "; ".join(parts)


async def fetch_pubkeys_g2(reader: ChainReader, to_block: int) -> dict[bytes, bytes]:
    """Every operator registered by ``to_block``: its G2 public key (128 bytes, as the chain
    holds it; ``G2Point.from_bytes`` checks it) by operator id, from the reader's key book
    (``NewPubkeyRegistration`` events, scanned once, then only the blocks since)."""
    return await reader.pubkeys.fetch_g2_keys(to_block)


async def _fetch_states(
    reader: ChainReader, quorums: Sequence[int], block: int
) -> dict[int, OperatorStakes]:
    raw = await reader.get_operator_state(quorums, block)
    return {q: sorted((op.operator_id, op.stake) for op in ops) for q, ops in raw.items()}


def _signed_stake(
    states: Mapping[int, OperatorStakes], signatures: Mapping[bytes, Signature]
) -> dict[int, tuple[int, int]]:
    return {
        q: (sum(s for op, s in ops if op in signatures), sum(s for _, s in ops))
        for q, ops in states.items()
    }


class _SendMeter:
    """Bytes written to the operators for the ``send`` progress hook: per operator the most
    any try has written, its whole body once it is done with (signed, refused or given up on),
    so the total is reached exactly when the step ends. Without a hook it only hands bodies
    through."""

    def __init__(self, progress: Progress | None, sizes: Mapping[bytes, int]) -> None:
        self._progress = progress
        self._sizes = dict(sizes)
        self._total = sum(sizes.values())
        self._written = dict.fromkeys(sizes, 0)

    def payload(self, operator_id: bytes, body: bytes) -> bytes | _MeteredBody:
        """What to POST: ``body`` itself, or, with a hook, a payload that reports its writes."""
        if self._progress is None:
            return body
        return _MeteredBody(body, lambda done: self._report(operator_id, done))

    def finish(self, operator_id: bytes) -> None:
        """``operator_id``'s request is over, whatever became of it."""
        self._report(operator_id, self._sizes[operator_id])

    def _report(self, operator_id: bytes, done: int) -> None:
        if self._progress is None or done <= self._written[operator_id]:
            return
        self._written[operator_id] = done
        self._progress("send", sum(self._written.values()), self._total)


class _MeteredBody(aiohttp.BytesPayload):
    """A request body written in slices, reporting the bytes written so far after each one
    (the writer waits for the socket to drain, so this follows the network, not memory)."""

    def __init__(self, body: bytes, on_written: Callable[[int], None]) -> None:
        super().__init__(body, content_type=CONTENT_TYPE)
        self._on_written = on_written

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        view = memoryview(self._value)[:content_length]
        for start in range(0, len(view), _PROGRESS_SLICE):
            end = min(start + _PROGRESS_SLICE, len(view))
            await writer.write(view[start:end])
            self._on_written(end)


class _Stopwatch:
    """``with clock("step"):`` records the step's seconds into ``timings``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self._timings = timings

    def __call__(self, step: str) -> _Stopwatch:
        self._step = step
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._timings[self._step] = time.perf_counter() - self._start
