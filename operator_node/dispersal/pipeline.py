"""StoreChunks on the node: authenticate, parse, validate, store durably, then sign.

Stages run cheapest first, and each is timed into one latency histogram (label ``stage``):

1. ``authenticate``: hash the body's head (not its chunks: see ``protocol.auth``), recover the
   disperser from its signature, check the allow-list, then that the replay guard has not seen
   the request; no chunk byte is hashed for a sender that is not allowed;
1b. ``payment``: on the head alone, each blob's payment metered against its account
   (``payments.meter``): a batch its accounts do not pay for is refused before its body is
   read, and charges nothing; the head parsed here is not parsed again;
2. ``parse``: decode the body with the wire limits (zero-copy for chunk data);
3. ``batch_root``: recompute the batch root from the blob headers;
4. ``operator_state``: the quorums' operator state at the reference block, from the chain;
5. ``assignment``: this operator's chunk indices for every blob must be exactly those sent;
6. ``proofs``: every chunk against its blob's commitment: each chunk hashed once (multi-buffer
   keccak in C). A request with up to ``loop_hash_bytes`` of chunks (about half a millisecond
   of hashing) is checked on the event loop, where it costs less than the thread hop would
   (about 1 ms under load); a bigger one off the loop, on up to ``hash_threads`` threads;
7. ``encoding``: for a blob of profile FP-v1, its fingerprint rows Z against the header, then
   every chunk's fingerprint against Z encoded at its index (``protocol.encoding``): chunks off
   the codeword the disperser committed to are refused (422 ``invalid_encoding``). A GF(2^8)
   blob without fingerprints is refused the same way unless ``fingerprint`` is "accepted". Then
   the request is recorded in the replay guard (only now, so a copy with altered chunks cannot
   use up the genuine request);
8. ``store``: one durable transaction (fsync before returning); if the store refuses (full,
   unavailable), the replay guard forgets the request, which stored nothing;
9. ``sign``: the BLS signature over the batch header hash.

The HTTP front runs stage 1 on the head alone (``authenticate``), before it commits a slot or a
buffer to the request, stage 1b (``meter``) once it holds an in-flight slot, then the rest on the
whole body (``store_admitted``); ``store_chunks`` runs all three. A store refusal for lack of
space marks dispersal Down (``store_full``) until a batch is stored again.

Every refusal raises before the store stage or is the store's refusal of the whole transaction,
so a refused request stores nothing and signs nothing. Storing a batch that is already stored is
a no-op, and the node signs it again: a disperser that lost the first reply can retry (with a
fresh timestamp and signature; after a store refusal, the same request will do).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from operator_node.crypto.signer import Signer
from operator_node.dispersal.allowlist import DisperserAllowlist
from operator_node.dispersal.chain_view import ChainView
from operator_node.dispersal.errors import ChainUnavailable, StaleReferenceBlock
from operator_node.dispersal.readiness import DispersalReadiness, Reason
from operator_node.dispersal.records import encode_batch_record, encode_blob_record
from operator_node.logging import get_logger
from operator_node.metrics import Metrics
from operator_node.protocol.assignment import compute_operator_chunks, validate_chunk_indices
from operator_node.protocol.auth import (
    ReplayGuard,
    compute_request_hash,
    compute_store_chunks_digest,
    parse_auth_headers,
    recover_disperser,
)
from operator_node.protocol.coding import DEFAULT_MAX_OVERHEAD, check_coding
from operator_node.protocol.encoding import FINGERPRINT_POLICIES, check_blob_encoding
from operator_node.protocol.errors import InvalidBlob, InvalidEncoding
from operator_node.protocol.hashes import Bytes, keccak256_many, keccak_backend
from operator_node.protocol.headers import (
    CODE_GF8,
    PROFILE_FP1,
    BlobHeader,
    validate_batch_root,
)
from operator_node.protocol.limits import (
    DEFAULT_MAX_BLOB_SIZE,
    DEFAULT_MIN_MARGIN,
    check_blob_limits,
)
from operator_node.protocol.messages import StoreChunksRequest, validate_blob_chunks
from operator_node.protocol.wire import (
    StoreChunksHead,
    WireLimits,
    decode_store_chunks,
    decode_store_chunks_head,
)
from operator_node.store import AsyncStore, StoredBlob, StoreError, StoreFullError

if TYPE_CHECKING:  # payments.accounts builds on dispersal.readiness
    from operator_node.payments.meter import PaymentMeter

# Hashing below this many bytes per thread is not worth a second thread (~0.5 ms of keccak).
_PARALLEL_HASH_BYTES = 2 << 20
_KECCAK_LANES = 8
# Chunk bytes checked on the event loop, per keccak backend: about 0.5-0.7 ms of hashing at one
# thread's speed (bench/keccak.py: ~3 GB/s AVX-512, ~1.1 GB/s AVX2, ~0.4 GB/s scalar and
# pycryptodome). A thread hop and the loop's wake-up after it cost ~1 ms under load on 2 cores
# (bench/ingest.py, 1.5 MiB requests: proofs stage 1.5-1.7 ms in a thread, 0.6-0.7 on the loop).
_LOOP_HASH_BYTES = {"avx512": 2 << 20, "avx2": 512 << 10, "scalar": 192 << 10}
_LOOP_HASH_BYTES_DEFAULT = 192 << 10


_STORE_FULL = Reason(
    "store_full", "the chunk store is full: batches are refused (507) until old ones expire"
)


@dataclass(frozen=True)
class Admission:
    """A request whose head passed ``authenticate``: who sent it, and its replay-guard entry."""

    disperser: str
    digest: bytes
    timestamp: int


@dataclass(frozen=True)
class StoreChunksResult:
    """What the node answers after storing a batch."""

    batch_header_hash: bytes
    operator_id: bytes
    signature: bytes
    newly_stored: bool
    disperser: str


class StoreChunksPipeline:
    """Validates, stores and signs StoreChunks requests for one operator."""

    def __init__(
        self,
        *,
        signer: Signer,
        store: AsyncStore,
        chain: ChainView | None,
        allowlist: DisperserAllowlist,
        replay_guard: ReplayGuard,
        metrics: Metrics,
        wire_limits: WireLimits,
        clock: Callable[[], float],
        hash_threads: int = 2,
        loop_hash_bytes: int | None = None,
        readiness: DispersalReadiness | None = None,
        max_overhead: float = DEFAULT_MAX_OVERHEAD,
        max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
        min_margin: int = DEFAULT_MIN_MARGIN,
        fingerprint: str = "required",
        meter: PaymentMeter | None = None,
    ) -> None:
        """``loop_hash_bytes``: the most chunk bytes checked on the event loop (None: the
        keccak backend's default, see ``_LOOP_HASH_BYTES``; 0: always off the loop).
        ``max_overhead``: the AVS's bound on a blob's encoding, in units of 1/gamma (see
        :func:`~operator_node.protocol.coding.check_coding`; ``math.inf`` for none).
        ``max_blob_size``, ``min_margin``: the AVS's largest blob and smallest margin (see
        :mod:`operator_node.protocol.limits`). ``fingerprint``: one of
        :data:`FINGERPRINT_POLICIES`."""
        if fingerprint not in FINGERPRINT_POLICIES:
            raise ValueError(f"fingerprint must be one of {FINGERPRINT_POLICIES}")
        self._signer = signer
        self._store = store
        self._chain = chain
        self._allowlist = allowlist
        self._replay_guard = replay_guard
        self._metrics = metrics
        self._wire_limits = wire_limits
        self._clock = clock
        self._hash_threads = max(1, hash_threads)
        self._readiness = readiness
        self._max_overhead = max_overhead
        self._max_blob_size = max_blob_size
        self._min_margin = min_margin
        self._require_fingerprint = fingerprint == "required"
        self._meter = meter
        if loop_hash_bytes is None:
            loop_hash_bytes = _LOOP_HASH_BYTES.get(keccak_backend(), _LOOP_HASH_BYTES_DEFAULT)
        self._loop_hash_bytes = loop_hash_bytes
        # The highest chain head seen: a reference block at or below it needs no RPC.
        self._chain_head = -1
        self._log = get_logger("dispersal").bind(operator_id="0x" + signer.operator_id.hex())

    async def store_chunks(self, body: memoryview, headers: Mapping[str, str]) -> StoreChunksResult:
        """Run every stage on one request body; raises a ProtocolError or StoreError to refuse."""
        admission = await self.authenticate(body, headers)
        head = self.meter(body)
        return await self.store_admitted(admission, body, head)

    async def authenticate(self, head: Bytes, headers: Mapping[str, str]) -> Admission:
        """Stage 1 on the body's head (or the whole body): who signed it, whether they may
        disperse, and whether the request is fresh. Raises a ProtocolError to refuse."""
        with self._metrics.time_stage("authenticate"):
            return await self._authenticate(head, headers)

    def meter(self, head: Bytes) -> StoreChunksHead | None:
        """Stage 1b on the head (or the whole body) of an admitted request: its payments.
        Raises a ProtocolError (a payment refusal among them) to refuse; charges the accounts
        otherwise, and returns the parsed head for :meth:`store_admitted` (None when payments
        are not metered: nothing was parsed).

        The blob headers are not checked against the batch root here (``store_admitted`` does
        that): a blob charged in a batch refused later stays charged, and is free in any other
        batch, as with any other refusal after metering."""
        if self._meter is None or not self._meter.metering:
            return None
        with self._metrics.time_stage("payment"):
            parsed = decode_store_chunks_head(head, self._wire_limits)
            self._meter.debit([(s.header, s.signature) for s in parsed.sections])
        return parsed

    async def store_admitted(
        self, admission: Admission, body: memoryview, head: StoreChunksHead | None = None
    ) -> StoreChunksResult:
        """Stages 2-8 on the whole body of a request whose head ``authenticate`` admitted.

        ``body`` must begin with that head (the caller read it there); ``head`` is what
        :meth:`meter` parsed of it, if anything. Raises a ProtocolError or StoreError to refuse.
        """
        started = time.perf_counter()
        stage = self._metrics.time_stage
        disperser, digest, timestamp = admission.disperser, admission.digest, admission.timestamp
        with stage("parse"):
            request = decode_store_chunks(body, self._wire_limits, head)
        batch_hash = request.batch_header.compute_hash()
        log = self._log.bind(batch="0x" + batch_hash.hex(), disperser=disperser)
        with stage("batch_root"):
            validate_batch_root(request.batch_header, [blob.header for blob in request.blobs])
            self._validate_coding([blob.header for blob in request.blobs])
        with stage("operator_state"):
            states = await self._fetch_operator_state(request)
        with stage("assignment"):
            self._validate_assignment(request, states)
        with stage("proofs"):
            await self._validate_chunks(request)
        with stage("encoding"):
            await self._validate_encoding(request)
            self._replay_guard.admit(digest, timestamp)
        with stage("store"):
            try:
                newly_stored = await self._store.put_batch(
                    batch_hash,
                    encode_batch_record(request.batch_header),
                    [
                        StoredBlob(
                            encode_blob_record(blob),
                            dict(zip(blob.indices, blob.chunks, strict=True)),
                        )
                        for blob in request.blobs
                    ],
                )
            except StoreError as exc:
                # Nothing was stored: the same request, sent again, must be judged again.
                self._replay_guard.release(digest)
                if isinstance(exc, StoreFullError):
                    self._set_store_reason(_STORE_FULL)
                raise
            self._set_store_reason(None)
            if newly_stored:
                for blob in request.blobs:
                    self._metrics.count_stored_blob(
                        blob.header.code, len(blob.indices), blob.chunk_bytes
                    )
        with stage("sign"):
            signature = await self._signer.sign(batch_hash)
        log.info(
            "batch_stored" if newly_stored else "batch_already_stored",
            blobs=len(request.blobs),
            chunks=sum(len(blob.indices) for blob in request.blobs),
            bytes=len(body),
            chunk_bytes=sum(len(chunk) for blob in request.blobs for chunk in blob.chunks),
            # From the whole body in hand to the signature (the head's check came before).
            duration_ms=round(1000 * (time.perf_counter() - started), 1),
            reference_block=request.batch_header.reference_block_number,
            signed=True,
        )
        return StoreChunksResult(
            batch_hash, self._signer.operator_id, signature, newly_stored, disperser
        )

    def _set_store_reason(self, reason: Reason | None) -> None:
        if self._readiness is not None:
            self._readiness.set("store", reason)

    async def _authenticate(self, body: Bytes, headers: Mapping[str, str]) -> Admission:
        signature, timestamp = parse_auth_headers(headers)
        operator_id = self._signer.operator_id
        # The head is small and recovery takes ~0.1 ms (coincurve): cheaper than a thread hop.
        request_hash = compute_request_hash(body, self._wire_limits)
        disperser = recover_disperser(signature, operator_id, timestamp, request_hash)
        await self._allowlist.validate(disperser)
        digest = compute_store_chunks_digest(operator_id, timestamp, request_hash)
        self._replay_guard.check(digest, timestamp)
        return Admission(disperser, digest, timestamp)

    async def _validate_chunks(self, request: StoreChunksRequest) -> None:
        chunks = [chunk for blob in request.blobs for chunk in blob.chunks]
        runs = _hash_runs(chunks, self._hash_threads, self._loop_hash_bytes)
        if not runs:
            _validate_proofs(request, None)
            return
        if len(runs) == 1:
            # One thread hop for the whole check: below two threads' worth, a second costs more.
            await asyncio.to_thread(_validate_proofs, request, None)
            return
        hashed = await asyncio.gather(*(asyncio.to_thread(keccak256_many, run) for run in runs))
        leaves = [leaf for run in hashed for leaf in run]
        await asyncio.to_thread(_validate_proofs, request, leaves)

    async def _validate_encoding(self, request: StoreChunksRequest) -> None:
        # The fingerprints run about as fast as the keccak (bench/ingest.py: ~3.4 GB/s a core),
        # so the proofs' bound on work kept on the event loop serves here too.
        fp1 = [blob for blob in request.blobs if blob.header.fingerprint == PROFILE_FP1]
        size = sum(blob.chunk_bytes for blob in fp1)
        if not fp1:
            return
        if size <= self._loop_hash_bytes:
            _validate_encodings(request)
        else:
            await asyncio.to_thread(_validate_encodings, request)

    async def _fetch_operator_state(
        self, request: StoreChunksRequest
    ) -> Mapping[int, list[tuple[bytes, int]]]:
        if self._chain is None:
            raise ChainUnavailable("this node runs without a chain: it cannot check assignments")
        reference_block = request.batch_header.reference_block_number
        if reference_block > self._chain_head:
            # The head only grows, so once it has reached a block, that block needs no RPC.
            self._chain_head = max(self._chain_head, await self._chain.get_block_number())
        if reference_block > self._chain_head:
            raise StaleReferenceBlock(
                f"reference block {reference_block} is ahead of the chain head {self._chain_head}"
            )
        quorums = sorted({q.quorum_number for b in request.blobs for q in b.header.quorums})
        states = await self._chain.get_operator_state(quorums, reference_block)
        return {quorum: list(operators) for quorum, operators in states.items()}

    def _validate_coding(self, headers: list[BlobHeader]) -> None:
        """Each blob's size, margins, code and shape: within the AVS's limits, a code the node
        knows, (k, n) it has, the canonical chunk length, and the AVS's overhead bound. No RPC
        needed, so it runs before the state fetch."""
        for blob_index, header in enumerate(headers):
            try:
                check_blob_limits(
                    header.data_length, header.quorums,
                    max_blob_size=self._max_blob_size, min_margin=self._min_margin,
                )  # fmt: skip
                check_coding(
                    header.code, header.k, header.n, header.chunk_length, header.data_length,
                    header.quorums, max_overhead=self._max_overhead,
                )  # fmt: skip
            except InvalidBlob as exc:
                raise type(exc)(f"blob {blob_index}: {exc}") from None
            if (
                self._require_fingerprint
                and header.code == CODE_GF8
                and header.fingerprint != PROFILE_FP1
            ):
                raise InvalidEncoding(
                    f"blob {blob_index}: this node requires encoding fingerprints (profile 1, "
                    "FP-v1) on GF(2^8) blobs"
                )

    def _validate_assignment(
        self, request: StoreChunksRequest, states: Mapping[int, list[tuple[bytes, int]]]
    ) -> None:
        operator_id = self._signer.operator_id
        for blob_index, blob in enumerate(request.blobs):
            expected = compute_operator_chunks(operator_id, blob.header, states)
            validate_chunk_indices(blob_index, blob.indices, expected)


def _hash_runs(chunks: list[Bytes], threads: int, loop_bytes: int) -> list[list[Bytes]]:
    """How to hash a request's chunks: no runs (on the event loop, up to ``loop_bytes``), one
    (one thread for the whole check), or several (that many threads; the GIL is released).

    Requests below two threads' worth stay in one run, where a second hop would cost more than it
    saves. Runs are multiples of 8 chunks, the width of the AVX-512 keccak, so no vector lanes go
    to waste.
    """
    total = sum(len(chunk) for chunk in chunks)
    if total <= loop_bytes:
        return []
    runs = max(1, min(threads, total // _PARALLEL_HASH_BYTES))
    step = -(-len(chunks) // runs)
    step = -(-step // _KECCAK_LANES) * _KECCAK_LANES
    return [chunks[start : start + step] for start in range(0, len(chunks), step)]


def _validate_proofs(request: StoreChunksRequest, leaves: list[bytes] | None) -> None:
    """Check every blob's chunks; ``leaves`` are all chunks' hashes in order, or None to hash."""
    start = 0
    for blob in request.blobs:
        end = start + len(blob.chunks)
        validate_blob_chunks(blob, None if leaves is None else leaves[start:end])
        start = end


def _validate_encodings(request: StoreChunksRequest) -> None:
    """Check every FP-v1 blob's chunks against its fingerprints (GIL released in the C part)."""
    for blob_index, blob in enumerate(request.blobs):
        if blob.header.fingerprint != PROFILE_FP1:
            continue
        try:
            check_blob_encoding(blob)
        except InvalidEncoding as exc:
            raise InvalidEncoding(f"blob {blob_index}: {exc}") from None
