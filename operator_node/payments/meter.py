"""Metering a batch's blobs against what their accounts pay, before any chunk is read.

For each blob of a StoreChunks head, in order:

1. it must carry a payment (403 ``payment_required``) signed by its account over this chain and
   vault (401 ``bad_account_signature``), with a timestamp within ``timestamp_window`` of this
   node's clock (422 ``payment_timestamp``);
2. a blob whose header hash was charged before (a retry, or the same blob in another batch) is
   free: the hash binds the payment timestamp, so "charged once" lasts as long as the header can
   be accepted at all;
3. its billable symbols are S = max(minSymbolsPerBlob, ceil(k · chunk length / 32)): the data
   after padding to k chunks, whatever n the stake spread calls for, so a client and every node
   count alike;
4. a reservation blob: the account has a reservation (403 ``no_reservation``), active at the
   payment timestamp (403 ``reservation_inactive``), covering every quorum of the blob (403
   ``quorum_not_reserved``); S is due in the bucket of (account, quorum) for each quorum of the
   blob this node serves, whose rate is the reservation's times the quorum's split and whose
   capacity is ``bucket_window`` seconds of that rate. Every node of a quorum meters the same
   blobs (each gets every batch with a blob in its quorums), so they agree up to their clocks;
5. an on-demand blob: every quorum takes on-demand payment (403 ``quorum_not_on_demand``), the
   signed cumulative payment is at most the account's deposit and at least S times the price
   (403 ``insufficient_deposit``), and S is due in the global on-demand bucket (the vault's
   rate times ``on_demand_slack``, holding its burst seconds, no overfill).

Then every bucket is tried with all that is due in it, on copies; if any refuses, the batch is
refused (429 ``reservation_exhausted`` / ``on_demand_exhausted`` with the seconds until it would
fit) and nothing is charged. Otherwise everything is charged at once: there is no ``await`` in
:meth:`PaymentMeter.debit`, so on the one event loop a batch's debit is atomic. A debit is never
refunded (a batch refused later, for a bad proof say, stays paid), but its retry is free (2).

Per-account on-demand spending is not tracked here: nodes see different subsets of blobs, so
they could not agree on it. The signed cumulative payment bounds it by the deposit; keeping
accounts' running totals is the allowed dispersers' duty.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from operator_node.addresses import to_checksum_address
from operator_node.metrics import Metrics
from operator_node.payments.accounts import VaultSnapshot
from operator_node.payments.bucket import LeakyBucket
from operator_node.payments.errors import (
    BadAccountSignature,
    BlobExceedsLimit,
    InsufficientDeposit,
    NoReservation,
    OnDemandExhausted,
    PaymentLimitExceeded,
    PaymentRequired,
    PaymentsBusy,
    PaymentsUnavailable,
    PaymentTimestampRejected,
    QuorumNotOnDemand,
    QuorumNotReserved,
    ReservationExhausted,
    ReservationInactive,
)
from operator_node.payments.vault import SYMBOL_BYTES
from operator_node.protocol.errors import BadSignature, ProtocolError
from operator_node.protocol.headers import PAYMENT_ON_DEMAND, BlobHeader
from operator_node.protocol.payment import recover_payer

_NS = 1_000_000_000
_ON_DEMAND = (b"", -1)  # the global bucket's key
_Key = tuple[bytes, int]


class VaultSource(Protocol):
    """What the meter reads the vault from (``payments.accounts.VaultAccounts``): its last
    snapshot (None before the first read), and whether the AVS has no vault at all."""

    snapshot: VaultSnapshot | None
    absent: bool


@dataclass(frozen=True)
class MeterSettings:
    """``[payments]`` as the meter needs it, with the chain and this node's quorums."""

    chain_id: int
    quorums: frozenset[int]
    enforce: bool = True
    bucket_window: float = 120.0
    overfill_once: bool = True
    timestamp_window: float = 300.0
    on_demand_slack: float = 1.1
    max_buckets: int = 65536
    max_charged: int = 100_000


def _name(header: BlobHeader) -> str:
    """A header's account as a checksummed address, for messages only (~15 us: made only when
    a refusal needs it)."""
    return to_checksum_address(header.account)


def billable_symbols(header: BlobHeader, min_symbols: int) -> int:
    """S = max(min_symbols, ceil(k · chunk_length / 32)) (see the module docstring)."""
    return max(min_symbols, -(-header.k * header.chunk_length // SYMBOL_BYTES))


@dataclass(frozen=True)
class _Due:
    blob: int
    symbols: int
    rate: float
    capacity: float
    overfill_once: bool


class PaymentMeter:
    """Buckets per (account, quorum), the global on-demand bucket and the set of blobs already
    charged; :meth:`debit` meters one batch. Use it from the event loop only."""

    def __init__(
        self,
        accounts: VaultSource,
        settings: MeterSettings,
        metrics: Metrics | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = accounts
        self._settings = settings
        self._metrics = metrics
        self._wall = wall_clock
        self._clock = clock
        self._buckets: OrderedDict[_Key, LeakyBucket] = OrderedDict()
        self._on_demand: LeakyBucket | None = None
        self._charged: set[bytes] = set()
        self._expiries: list[tuple[float, bytes]] = []

    @property
    def metering(self) -> bool:
        """Whether batches are metered at all (False when the AVS has no vault)."""
        return not self._accounts.absent

    def debit(self, blobs: Sequence[tuple[BlobHeader, bytes]]) -> None:
        """Meter one batch's blobs, given as (header, account signature) in blob order.

        Raises a payment refusal (``payments.errors``) and charges nothing, or charges every
        blob's symbols. In observe mode a refusal is counted and nothing raised (or charged).
        """
        if self._accounts.absent:
            return
        snapshot = self._accounts.snapshot
        if snapshot is None:
            if not self._settings.enforce:
                return  # observing: nothing to observe against yet, and nothing is refused
            raise PaymentsUnavailable("the payment vault has not been read yet; retry shortly")
        try:
            self._debit(snapshot, blobs)
        except ProtocolError as exc:
            if self._metrics is not None:
                self._metrics.count_payment_refusal(exc.code)
                for header, _ in blobs:
                    kind = header.payment.kind_name if header.payment else "none"
                    self._metrics.count_payment(
                        kind, "refused" if self._settings.enforce else "observed"
                    )
            if self._settings.enforce:
                raise

    def _debit(self, snapshot: VaultSnapshot, blobs: Sequence[tuple[BlobHeader, bytes]]) -> None:
        wall, now = self._wall(), self._clock()
        self._evict(wall)
        due: dict[_Key, list[_Due]] = {}
        fresh: list[tuple[bytes, float, str, int]] = []  # hash, expiry, kind, symbols
        pending: set[bytes] = set()  # a blob twice in one batch is charged once
        for index, (header, signature) in enumerate(blobs):
            charge = self._blob_due(index, header, signature, snapshot, wall, pending)
            if charge is None:
                continue
            entries, paid = charge
            pending.add(paid[0])
            for key, entry in entries:
                due.setdefault(key, []).append(entry)
            fresh.append(paid)
        self._try(due, now, blobs)
        if len(self._charged) + len(fresh) > self._settings.max_charged:
            raise PaymentsBusy(
                f"this node remembers {self._settings.max_charged} paid blobs already; "
                "retry shortly"
            )
        self._commit(due, fresh, now)

    def _blob_due(
        self,
        index: int,
        header: BlobHeader,
        signature: bytes,
        snapshot: VaultSnapshot,
        wall: float,
        pending: set[bytes],
    ) -> tuple[list[tuple[_Key, _Due]], tuple[bytes, float, str, int]] | None:
        """What one blob owes, and its entry for the charged set; None if it was charged
        before (or earlier in this batch: ``pending``). Raises the blob's refusal."""
        payment = header.payment
        if payment is None:
            raise PaymentRequired(
                f"blob {index} carries no payment: this node meters blobs against the "
                "AVS's payment vault (see docs/payments.md)"
            )
        header_hash = header.compute_hash()
        if header_hash in self._charged or header_hash in pending:
            if self._metrics is not None:
                self._metrics.count_payment(payment.kind_name, "already_charged")
            return None
        window = self._settings.timestamp_window
        signed_at = payment.timestamp / _NS
        if abs(wall - signed_at) > window:
            raise PaymentTimestampRejected(
                f"blob {index}: payment timestamp is {wall - signed_at:+.0f} s from this "
                f"node's clock, outside ±{window:g} s: sign it again"
            )
        self._check_signature(index, header, header_hash, signature, snapshot.vault)
        symbols = billable_symbols(header, snapshot.params.min_symbols_per_blob)
        if payment.kind == PAYMENT_ON_DEMAND:
            entries = [self._on_demand_due(index, header, symbols, snapshot)]
        else:
            entries = self._reservation_due(index, header, symbols, snapshot)
        return entries, (header_hash, signed_at + window, payment.kind_name, symbols)

    def _commit(
        self, due: dict[_Key, list[_Due]], fresh: list[tuple[bytes, float, str, int]], now: float
    ) -> None:
        for key, entries in due.items():
            bucket = self._bucket(key, entries[0], now)
            for entry in entries:
                bucket.fill(now, entry.symbols)
        for header_hash, expiry, kind, symbols in fresh:
            self._charged.add(header_hash)
            heapq.heappush(self._expiries, (expiry, header_hash))
            if self._metrics is not None:
                self._metrics.count_payment(kind, "accepted", symbols)
        if self._metrics is not None:
            on_demand = self._on_demand
            fill = on_demand.level(now) / on_demand.capacity if on_demand is not None else 0.0
            self._metrics.set_payment_buckets(len(self._buckets), fill)

    def _check_signature(
        self, index: int, header: BlobHeader, header_hash: bytes, signature: bytes, vault: bytes
    ) -> None:
        try:
            signer = recover_payer(signature, self._settings.chain_id, vault, header_hash)
        except BadSignature as exc:
            raise BadAccountSignature(f"blob {index}: account signature: {exc}") from None
        if signer != header.account:
            raise BadAccountSignature(
                f"blob {index}: the payment is signed by {to_checksum_address(signer)}, not by "
                f"its account {to_checksum_address(header.account)}"
            )

    def _reservation_due(
        self, index: int, header: BlobHeader, symbols: int, snapshot: VaultSnapshot
    ) -> list[tuple[_Key, _Due]]:
        reservation = snapshot.reservations.get(header.account)
        if reservation is None:
            raise NoReservation(f"blob {index}: account {_name(header)} has no reservation")
        assert header.payment is not None
        signed_at = header.payment.timestamp / _NS
        if not reservation.active(signed_at):
            raise ReservationInactive(
                f"blob {index}: account {_name(header)}'s reservation runs from "
                f"{reservation.start} to {reservation.end} (Unix seconds); the blob was signed "
                f"at {signed_at:.0f}"
            )
        splits = dict(zip(reservation.quorums, reservation.splits, strict=True))
        quorums = [q.quorum_number for q in header.quorums]
        missing = [q for q in quorums if q not in splits]
        if missing:
            raise QuorumNotReserved(
                f"blob {index}: account {_name(header)}'s reservation does not cover quorum(s) "
                f"{missing} (it covers {list(reservation.quorums)})"
            )
        served = [q for q in quorums if q in self._settings.quorums] or quorums
        settings = self._settings
        out = []
        for quorum in served:
            rate = reservation.symbols_per_second * splits[quorum] / 100
            entry = _Due(
                index, symbols, rate, rate * settings.bucket_window, settings.overfill_once
            )
            out.append(((header.account, quorum), entry))
        return out

    def _on_demand_due(
        self, index: int, header: BlobHeader, symbols: int, snapshot: VaultSnapshot
    ) -> tuple[_Key, _Due]:
        params = snapshot.params
        quorums = [q.quorum_number for q in header.quorums]
        if params.on_demand_symbols_per_second == 0:
            raise QuorumNotOnDemand(f"blob {index}: the vault takes no on-demand payment")
        outside = [q for q in quorums if q not in params.on_demand_quorums]
        if outside:
            raise QuorumNotOnDemand(
                f"blob {index}: quorum(s) {outside} take no on-demand payment (the vault's "
                f"on-demand quorums are {list(params.on_demand_quorums)})"
            )
        assert header.payment is not None
        paid = header.payment.cumulative_payment
        deposit = snapshot.deposits.get(header.account, 0)
        cost = symbols * params.price_per_symbol
        if paid > deposit or paid < cost:
            raise InsufficientDeposit(
                f"blob {index}: account {_name(header)} signed a cumulative payment of {paid} wei; "
                f"its deposit is {deposit} wei and this blob costs {cost} wei "
                f"({symbols} symbols at {params.price_per_symbol} wei)"
            )
        rate = params.on_demand_symbols_per_second * self._settings.on_demand_slack
        capacity = rate * max(1, params.on_demand_burst_seconds)
        return _ON_DEMAND, _Due(index, symbols, rate, capacity, False)

    def _try(
        self,
        due: dict[_Key, list[_Due]],
        now: float,
        blobs: Sequence[tuple[BlobHeader, bytes]],
    ) -> None:
        """Every bucket with all that is due in it, on copies; raise the refusal with the
        longest wait (or one that can never fit) and change nothing."""
        worst: PaymentLimitExceeded | None = None
        for key, entries in due.items():
            first = entries[0]
            existing = self._existing(key)
            level = existing.level(now) if existing is not None else 0.0
            trial = LeakyBucket(
                first.rate, first.capacity, overfill_once=first.overfill_once, level=level, now=now
            )
            for entry in entries:
                outcome = trial.fill(now, entry.symbols)
                if outcome.accepted:
                    continue
                if outcome.never:
                    raise BlobExceedsLimit(
                        f"blob {entry.blob}: {entry.symbols} symbols exceed the "
                        f"{'on-demand' if key == _ON_DEMAND else 'reservation'} bucket's "
                        f"capacity of {first.capacity:.0f}: it can never be accepted"
                    )
                refusal: PaymentLimitExceeded
                if key == _ON_DEMAND:
                    refusal = OnDemandExhausted(
                        f"blob {entry.blob}: the on-demand rate of all accounts is used up "
                        f"({first.rate:g} symbols/s); retry in {outcome.retry_after:.1f} s",
                        retry_after=outcome.retry_after,
                        payment_limit="on_demand",
                    )
                else:
                    refusal = ReservationExhausted(
                        f"blob {entry.blob}: account {_name(blobs[entry.blob][0])}'s "
                        f"reservation for quorum {key[1]} is used up ({first.rate:g} symbols/s, "
                        f"{first.capacity:.0f} in {self._settings.bucket_window:g} s); retry in "
                        f"{outcome.retry_after:.1f} s",
                        retry_after=outcome.retry_after,
                        payment_limit="reservation",
                    )
                if worst is None or refusal.retry_after > worst.retry_after:
                    worst = refusal
                break
        if worst is not None:
            raise worst

    def _existing(self, key: _Key) -> LeakyBucket | None:
        if key == _ON_DEMAND:
            return self._on_demand
        return self._buckets.get(key)

    def _bucket(self, key: _Key, entry: _Due, now: float) -> LeakyBucket:
        """The bucket at ``key``, made or set to ``entry``'s rate and capacity (a changed
        reservation keeps its level)."""
        bucket = self._existing(key)
        if bucket is None:
            bucket = LeakyBucket(
                entry.rate, entry.capacity, overfill_once=entry.overfill_once, now=now
            )
        elif (bucket.rate, bucket.capacity) != (entry.rate, entry.capacity):
            bucket.reconfigure(now, entry.rate, entry.capacity)
        if key == _ON_DEMAND:
            self._on_demand = bucket
            return bucket
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._settings.max_buckets:
            self._buckets.popitem(last=False)
        return bucket

    def _evict(self, wall: float) -> None:
        while self._expiries and self._expiries[0][0] < wall:
            _, header_hash = heapq.heappop(self._expiries)
            self._charged.discard(header_hash)
