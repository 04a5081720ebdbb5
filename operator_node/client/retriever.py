"""The retriever: fetch chunks from operators until any k rebuild the blob, trusting no node.

Operators are asked at their socket's retrieval port (:mod:`operator_node.sockets`), in waves
of ``fanout``, largest stake first (stake is what chunks are assigned by), and asking stops as
soon as k distinct valid chunks are in: with hundreds of operators a blob is usually rebuilt
from the first wave or two. Every reply is checked against the batch header hash asked for (blob
header in the batch root, every chunk against the blob commitment); a node that answers garbage,
is down or has nothing is skipped. The decoded blob is re-encoded and its commitment compared,
so what is returned is exactly what was dispersed; for a blob of profile FP-v1 the fingerprints
of the rebuilt data chunks must also hash to the header's fingerprint hash, the one the operators
signed (``protocol.encoding``). Either mismatch is refused: no data is returned.

A ``progress`` hook hears of the ``fetch`` step in bytes: received so far, out of the sizes the
replies announced so far (a total that grows as each reply starts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from operator_node.chain.client import ChainConnection
from operator_node.erasure import cached_codec
from operator_node.errors import OperatorNodeError
from operator_node.protocol.encoding import compute_fingerprint_rows
from operator_node.protocol.hashes import Bytes, keccak256
from operator_node.protocol.headers import (
    CODE_FIELD_BITS,
    PROFILE_FP1,
    BlobHeader,
    compute_chunk_tree,
)
from operator_node.protocol.merkle import MerkleTree
from operator_node.protocol.messages import RetrievalReply, validate_retrieval_reply
from operator_node.protocol.wire import WireLimits, decode_retrieval_reply
from operator_node.sockets import SocketError, parse_socket

Progress = Callable[[str, int, int], None]
"""A progress hook: ``(step, bytes done, bytes in total)``."""
_READ_SIZE = 256 * 1024  # bytes read between two progress reports


class RetrievalError(OperatorNodeError):
    """The blob could not be rebuilt: too few valid chunks, or nothing known of it."""


@dataclass(frozen=True)
class RetrievedBlob:
    """A rebuilt blob and where its chunks came from."""

    data: bytes
    header: BlobHeader
    chunks_used: int
    sources: dict[str, int]
    failures: dict[str, str] = field(default_factory=dict)
    encoded: tuple[Bytes, ...] = field(default=(), repr=False)
    """All n chunks of the blob, re-encoded from the data (read-only views, not copies; their
    tree's root is the commitment)."""
    tree: MerkleTree | None = field(default=None, repr=False)
    """The chunk tree over ``encoded`` (its root is the commitment)."""


class Retriever:
    """Rebuilds blobs from the operators registered on the chain of ``connection``."""

    def __init__(
        self,
        connection: ChainConnection,
        *,
        timeout: float = 10.0,
        limits: WireLimits | None = None,
        codec_backend: str = "auto",
        fanout: int = 8,
    ) -> None:
        self._connection = connection
        self._timeout = timeout
        self._limits = limits or WireLimits()
        self._codec_backend = codec_backend
        self._fanout = max(1, fanout)

    async def fetch_sockets(self) -> list[str]:
        """The sockets of every operator currently registered in any quorum, largest stake
        (summed over quorums) first; operators without a socket are left out."""
        reader = await self._connection.get_reader()
        block = await reader.get_current_block()
        quorums = list(range(await reader.get_quorum_count()))
        state = await reader.get_operator_state(quorums, block)
        stakes: dict[bytes, int] = {}
        for operators in state.values():
            for op in operators:
                stakes[op.operator_id] = stakes.get(op.operator_id, 0) + op.stake
        ordered = sorted(stakes, key=lambda op: (-stakes[op], op))
        sockets = await reader.sockets.fetch_sockets(ordered)
        return [sockets[op] for op in ordered if sockets.get(op)]

    async def retrieve(
        self,
        batch_header_hash: bytes,
        blob_index: int,
        sockets: Sequence[str] | None = None,
        *,
        progress: Progress | None = None,
    ) -> RetrievedBlob:
        """Rebuild one blob, asking ``sockets`` (default: every operator's, largest stake first)
        in waves until k valid chunks are in; raises :class:`RetrievalError` if they never are.
        ``progress`` hears of the bytes fetched."""
        sockets = list(sockets) if sockets is not None else await self.fetch_sockets()
        meter = _FetchMeter(progress) if progress is not None else None
        replies, failures = await self.fetch_chunks(sockets, batch_header_hash, blob_index, meter)
        if not replies:
            raise RetrievalError(
                f"no node returned valid chunks of blob {blob_index} of batch "
                f"0x{batch_header_hash.hex()} ({_describe(failures)})"
            )
        return await asyncio.to_thread(self.rebuild, replies, failures)

    async def fetch_chunks(
        self,
        sockets: Sequence[str],
        batch_hash: bytes,
        blob_index: int,
        meter: _FetchMeter | None,
    ) -> tuple[dict[str, RetrievalReply], dict[str, str]]:
        """Ask ``fanout`` sockets at a time, in order, until the replies hold k distinct chunks;
        the valid replies by socket, and why each other socket gave none."""
        replies: dict[str, RetrievalReply] = {}
        failures: dict[str, str] = {}
        held: set[int] = set()
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for start in range(0, len(sockets), self._fanout):
                wave = sockets[start : start + self._fanout]
                results = await asyncio.gather(
                    *(self._fetch_one(session, s, batch_hash, blob_index, meter) for s in wave)
                )
                for socket, result in zip(wave, results, strict=True):
                    if isinstance(result, str):
                        failures[socket] = result
                    else:
                        replies[socket] = result
                        held.update(result.blob.indices)
                if replies and len(held) >= next(iter(replies.values())).blob.header.k:
                    break
        return replies, failures

    async def _fetch_one(
        self,
        session: aiohttp.ClientSession,
        socket: str,
        batch_hash: bytes,
        blob_index: int,
        meter: _FetchMeter | None,
    ) -> RetrievalReply | str:
        try:
            url = parse_socket(socket).retrieval_url(
                f"/v1/chunks/0x{batch_hash.hex()}/{blob_index}"
            )
        except SocketError as exc:
            return f"bad socket: {exc}"
        try:
            async with session.get(url) as response:
                body = await _read_body(response, meter)
                if response.status != 200:
                    return f"HTTP {response.status}"
            reply = decode_retrieval_reply(body, self._limits)
            await asyncio.to_thread(validate_retrieval_reply, reply, batch_hash, blob_index)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"unreachable: {type(exc).__name__}"
        except OperatorNodeError as exc:
            return f"invalid reply: {exc}"
        return reply

    def rebuild(
        self, replies: dict[str, RetrievalReply], failures: dict[str, str]
    ) -> RetrievedBlob:
        """The blob decoded from valid ``replies`` (at least one) and checked against its
        commitment (see the module doc); raises :class:`RetrievalError` otherwise. CPU-bound:
        call it in a thread."""
        header = next(iter(replies.values())).blob.header
        chunks: dict[int, Bytes] = {}
        sources: dict[str, int] = {}
        for socket, reply in replies.items():
            new = {i: c for i, c in zip(reply.blob.indices, reply.blob.chunks, strict=True)
                   if i not in chunks}  # fmt: skip
            chunks.update(new)
            sources[socket] = len(new)
        if len(chunks) < header.k:
            raise RetrievalError(
                f"only {len(chunks)} valid chunks of the {header.k} needed ({_describe(failures)})"
            )
        field = CODE_FIELD_BITS[header.code]
        codec = cached_codec(header.k, header.n, self._codec_backend, field)
        chosen = dict(sorted(chunks.items())[: header.k])
        data = bytes(codec.decode(chosen, length=header.data_length))
        # Re-encoding proves the rebuilt blob is the committed one, not just k consistent rows.
        encoded = codec.encode(data)
        tree = compute_chunk_tree(encoded)
        if tree.root != header.commitment:
            raise RetrievalError("the rebuilt blob does not match its commitment")
        if header.fingerprint == PROFILE_FP1:
            z = compute_fingerprint_rows(header, encoded[: header.k])
            if keccak256(z) != header.fingerprint_hash:
                raise RetrievalError(
                    "the rebuilt blob's fingerprints do not match the fingerprint hash its "
                    "operators signed"
                )
        return RetrievedBlob(data, header, len(chosen), sources, failures, tuple(encoded), tree)


async def _read_body(response: aiohttp.ClientResponse, meter: _FetchMeter | None) -> bytes:
    """The whole body; in pieces, each counted, when there is a meter to tell."""
    if meter is None or response.status != 200:
        return await response.read()
    meter.expect(response.content_length or 0)
    pieces = []
    async for piece in response.content.iter_chunked(_READ_SIZE):
        pieces.append(piece)
        meter.received(len(piece))
    return b"".join(pieces)


class _FetchMeter:
    """Bytes received from every node asked, out of the sizes their replies announced."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._expected = 0
        self._received = 0

    def expect(self, size: int) -> None:
        """A reply of ``size`` bytes has started."""
        self._expected += size
        self._progress("fetch", self._received, self._expected)

    def received(self, size: int) -> None:
        """``size`` more bytes of a reply are in."""
        self._received += size
        self._progress("fetch", self._received, max(self._expected, self._received))


def _describe(failures: dict[str, str]) -> str:
    return "; ".join(f"{s}: {why}" for s, why in failures.items()) or "no nodes asked"
