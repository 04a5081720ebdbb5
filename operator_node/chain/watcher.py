"""The chain watcher: the chain head, and whether this operator's signatures made it on chain.

A batch this node signed may still be confirmed without it (its reply came late, or it refused,
or it was down), and the node would not know: the disperser confirms, not the node. So every
``interval`` seconds the watcher

1. reads the latest block (``operator_node_chain_head_block``, and how old it is:
   ``operator_node_chain_head_age_seconds``); on an idle chain that is its only call;
2. asks for the service manager's ``BatchConfirmed(bytes32 indexed batchHeaderHash, uint32
   batchId)`` logs since the last block it scanned, at most ``block_range`` blocks per
   ``eth_getLogs``; it starts at the head it first sees (history is not rescanned) unless told a
   block to start from;
3. for each, fetches the confirm transaction and decodes its ``confirmBatch(BatchHeader,
   NonSignerStakesAndSignature)`` calldata, checked against the event's hash: the operator was
   expected to sign if it was registered, at the batch's reference block, in one of the batch's
   quorums (the operator state the node reads for dispersal, often still cached from it); it
   signed unless its operator id (keccak of its G1 key) is among the non-signers' keys.

Each batch it was expected to sign counts as confirmed and as signed or missed, and feeds the
signing rate over the last ``metrics.SIGNING_WINDOW`` (one warning line per missed batch). A
failed step is retried on the next poll from where it stopped; no log is counted twice.

A deployment whose service manager does not confirm batches (EigenLayer's own
``ServiceManagerBase``: no ``batchId()``, no ``confirmBatch``) is told once in the log; the head
is still reported, and no batch series is exported at all rather than zeros that would mean
"nothing confirmed".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak
from web3.exceptions import Web3Exception

from operator_node.chain.calls import probe_view
from operator_node.chain.client import ChainConnection
from operator_node.chain.confirm import compute_reduced_batch_header_hash
from operator_node.chain.errors import ChainError
from operator_node.chain.reader import ChainReader
from operator_node.metrics import Metrics

# Where a log sits in the chain: (block number, log index).
_Position = tuple[int, int]


@dataclass(frozen=True)
class ConfirmedBatch:
    """What a ``confirmBatch`` transaction says about one batch and its signers."""

    batch_header_hash: bytes
    batch_id: int
    reference_block: int
    quorums: tuple[int, ...]
    non_signer_ids: frozenset[bytes]
    tx_hash: str


class UndecodableConfirmation(ChainError):
    """A BatchConfirmed event whose transaction is not a direct ``confirmBatch`` call of the
    service manager for that batch (e.g. sent through another contract)."""


def compute_operator_id(x: int, y: int) -> bytes:
    """keccak256(X ‖ Y): the operator id of a G1 key, as the BLSApkRegistry assigns it."""
    return keccak(x.to_bytes(32, "big") + y.to_bytes(32, "big"))


def decode_confirmation(service_manager: Any, log: Any, tx_input: Any) -> ConfirmedBatch:
    """The batch a ``BatchConfirmed`` log reports, from its transaction's calldata.

    Raises :class:`UndecodableConfirmation` when the calldata is not ``confirmBatch`` or does
    not hash to the log's batch header hash.
    """
    try:
        function, args = service_manager.decode_function_input(tx_input)
    except ValueError as exc:
        raise UndecodableConfirmation(f"not a confirmBatch call: {exc}") from exc
    if function.fn_name != "confirmBatch":
        raise UndecodableConfirmation(f"the transaction calls {function.fn_name}")
    header = args["batchHeader"]
    root, reference = bytes(header["blobHeadersRoot"]), int(header["referenceBlockNumber"])
    batch_hash = bytes(log["args"]["batchHeaderHash"])
    if compute_reduced_batch_header_hash(root, reference) != batch_hash:
        raise UndecodableConfirmation("its batch header does not hash to the event's")
    keys = args["nonSignerStakesAndSignature"]["nonSignerPubkeys"]
    return ConfirmedBatch(
        batch_header_hash=batch_hash,
        batch_id=int(log["args"]["batchId"]),
        reference_block=reference,
        quorums=tuple(bytes(header["quorumNumbers"])),
        non_signer_ids=frozenset(compute_operator_id(*_coordinates(key)) for key in keys),
        tx_hash="0x" + bytes(log["transactionHash"]).hex(),
    )


def _coordinates(key: Any) -> tuple[int, int]:
    if isinstance(key, Mapping):
        return int(key["X"]), int(key["Y"])
    x, y = key
    return int(x), int(y)


class BatchWatcher:
    """Follows the head and ``BatchConfirmed``; reports this operator's signing to metrics."""

    def __init__(
        self,
        connection: ChainConnection,
        *,
        operator_id: bytes,
        metrics: Metrics,
        logger: Any,
        interval: float = 30.0,
        from_block: int = -1,
        block_range: int = 10_000,
        retry_backoff: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``from_block`` -1 starts at the head seen first; ``clock`` is wall time (compared
        with block timestamps)."""
        if interval <= 0 or block_range < 1 or from_block < -1:
            raise ValueError("interval > 0, block_range >= 1 and from_block >= -1 required")
        self._connection = connection
        self._operator_id = operator_id
        self._metrics = metrics
        self._log = logger
        self._interval = interval
        self._from_block = from_block
        self._block_range = block_range
        self._retry_backoff = retry_backoff
        self._clock = clock
        self._tracking: bool | None = None  # None until the service manager is probed
        self._scanned: int | None = None  # last block whose logs are all judged
        self._judged: _Position = (-1, -1)  # last log judged (a retried range skips up to it)
        self._told_undecodable = False

    async def run(self) -> None:
        """Poll forever; a failed poll is logged and retried with backoff, capped at the
        interval."""
        failures = 0
        while True:
            try:
                await self.poll_once()
                failures, delay = 0, self._interval
            except (ChainError, Web3Exception) as exc:
                delay = min(self._interval, self._retry_backoff * 2**failures)
                failures = min(failures + 1, 30)
                self._log.warning("chain_watch_failed", error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)

    async def poll_once(self) -> None:
        """Read the head; judge every ``BatchConfirmed`` since the last poll up to it.

        Raises :class:`ChainError` (or a web3 error) when the chain cannot be read; what was
        judged stays judged.
        """
        reader = await self._connection.get_reader()
        head = await self._read_head(reader)
        if self._tracking is None:
            self._tracking = await self._probe_batch_confirmation(reader)
        if not self._tracking:
            return
        if self._scanned is None:
            self._scanned = head if self._from_block < 0 else self._from_block - 1
            self._metrics.set_watcher_block(max(self._scanned, 0))
        while self._scanned < head:
            end = min(head, self._scanned + self._block_range)
            event = reader.contracts.service_manager.events.BatchConfirmed
            for log in await event.get_logs(from_block=self._scanned + 1, to_block=end):
                position = (int(log["blockNumber"]), int(log["logIndex"]))
                if position > self._judged:
                    await self._judge(reader, log, head)
                    self._judged = position
            self._scanned = end
            self._metrics.set_watcher_block(end)

    async def _read_head(self, reader: ChainReader) -> int:
        block = await reader.w3.eth.get_block("latest")
        number = int(block["number"])
        reader.note_head(number)
        self._metrics.set_chain_head(number, float(block["timestamp"]), self._clock())
        return number

    async def _probe_batch_confirmation(self, reader: ChainReader) -> bool:
        """Whether the service manager confirms batches (answers ``batchId()``, as EigenDA's
        does); says once in the log when it does not."""
        service_manager = reader.contracts.service_manager
        answered, _ = await probe_view(service_manager.functions.batchId())
        if answered:
            self._metrics.start_batch_tracking()
            self._log.info("chain_watch_started", service_manager=service_manager.address)
        else:
            self._log.warning(
                "chain_watch_no_batches",
                reason=(
                    f"the service manager at {service_manager.address} has no batchId() "
                    "(no confirmBatch, as EigenLayer's ServiceManagerBase): confirmed batches "
                    "and this operator's signing are not reported; the chain head still is"
                ),
            )
        return answered

    async def _judge(self, reader: ChainReader, log: Any, head: int) -> None:
        """Count one confirmed batch if this operator was expected to sign it."""
        tx = await reader.w3.eth.get_transaction(log["transactionHash"])
        try:
            batch = decode_confirmation(reader.contracts.service_manager, log, tx["input"])
        except UndecodableConfirmation as exc:
            if not self._told_undecodable:
                self._told_undecodable = True
                self._log.warning(
                    "chain_watch_undecodable",
                    tx="0x" + bytes(log["transactionHash"]).hex(),
                    error=str(exc),
                    note="such batches are not counted; this is said once",
                )
            return
        state = await reader.get_operator_state(batch.quorums, batch.reference_block, head=head)
        if not any(op.operator_id == self._operator_id for ops in state.values() for op in ops):
            return
        signed = self._operator_id not in batch.non_signer_ids
        self._metrics.record_batch_signing(signed)
        if not signed:
            self._log.warning(
                "batch_missed",
                batch_header_hash="0x" + batch.batch_header_hash.hex(),
                batch_id=batch.batch_id,
                reference_block=batch.reference_block,
                quorums=list(batch.quorums),
                tx=batch.tx_hash,
                signing_rate=round(self._metrics.get_signing_rate(), 4),
            )
