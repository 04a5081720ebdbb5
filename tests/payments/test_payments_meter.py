"""The meter's decisions on real signed headers, with the clocks in the test's hands: symbols
billed, buckets per (account, quorum) split as reserved, batches all or nothing, blobs charged
once, observe mode, the vault changing under the buckets, and the bounds on memory."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from prometheus_client import CollectorRegistry
from support.messages import make_blob

from operator_node.metrics import Metrics
from operator_node.payments.accounts import VaultSnapshot
from operator_node.payments.errors import (
    BadAccountSignature,
    BlobExceedsLimit,
    InsufficientDeposit,
    NoReservation,
    OnDemandExhausted,
    PaymentRequired,
    PaymentsBusy,
    PaymentsUnavailable,
    PaymentTimestampRejected,
    QuorumNotOnDemand,
    QuorumNotReserved,
    ReservationExhausted,
    ReservationInactive,
)
from operator_node.payments.meter import MeterSettings, PaymentMeter, billable_symbols
from operator_node.payments.vault import GlobalParams, Reservation
from operator_node.protocol.headers import (
    PAYMENT_ON_DEMAND,
    PAYMENT_RESERVATION,
    BlobHeader,
    Payment,
    QuorumParams,
)
from operator_node.protocol.payment import sign_blob_payment

CHAIN = 31337
VAULT = bytes(range(20))
NOW = 1_800_000_000.0  # the wall clock, Unix seconds
PARAMS = GlobalParams(32, 10, 60, 100, 2, (0,))
ALICE: LocalAccount = Account.from_key(bytes(31) + b"\x01")
BOB: LocalAccount = Account.from_key(bytes(31) + b"\x02")
# make_blob: k = 3, chunk length 16: 48 bytes, 2 symbols, billed at the minimum of 32.
S = 32


def raw(account: LocalAccount) -> bytes:
    return bytes.fromhex(account.address[2:])


@dataclass
class Vault:
    """A vault as the meter reads it."""

    snapshot: VaultSnapshot | None = None
    absent: bool = False


@dataclass
class Clocks:
    wall: float = NOW
    mono: float = 1000.0
    headers: list[BlobHeader] = field(default_factory=list)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def vault(**reservations: Reservation) -> Vault:
    snapshot = VaultSnapshot(VAULT, PARAMS)
    for name, reservation in reservations.items():
        snapshot.reservations[raw(ACCOUNTS[name])] = reservation
    snapshot.deposits[raw(BOB)] = 10**6
    return Vault(snapshot)


ACCOUNTS = {"alice": ALICE, "bob": BOB}
QUORUMS = (QuorumParams(0, 33, 55), QuorumParams(1, 40, 60))
Q0 = (QUORUMS[0],)


def reserve(
    rate: int, quorums: tuple[int, ...] = (0, 1), splits: tuple[int, ...] = (60, 40), days: int = 0
) -> Reservation:
    """A reservation over NOW ± 100 s (± ``days`` more)."""
    span = 100 + days * 86400
    return Reservation(rate, int(NOW) - span, int(NOW) + span, quorums, splits)


def meter(
    source: Vault, clocks: Clocks, registry: CollectorRegistry | None = None, **settings: object
) -> PaymentMeter:
    options: dict[str, object] = {
        "chain_id": CHAIN,
        "quorums": frozenset({0, 1}),
        "bucket_window": 10.0,
    }
    options.update(settings)
    metrics = Metrics(registry, avs_name="t", version="0") if registry is not None else None
    return PaymentMeter(
        source, MeterSettings(**options),  # type: ignore[arg-type]
        metrics, wall_clock=lambda: clocks.wall, clock=lambda: clocks.mono,
    )  # fmt: skip


_rng = random.Random(7)


def paid(
    account: LocalAccount,
    *,
    kind: int = PAYMENT_RESERVATION,
    cumulative: int = 0,
    at: float = NOW,
    signer: LocalAccount | None = None,
    quorums: tuple[QuorumParams, ...] = QUORUMS,
) -> tuple[BlobHeader, bytes]:
    header = dataclasses.replace(
        make_blob(_rng, quorums=quorums).header,
        account=raw(account),
        payment=Payment(kind, int(at * 1e9) + _rng.randrange(1000), cumulative),
    )
    return header, sign_blob_payment(signer or account, CHAIN, VAULT, header)


def test_billable_symbols_are_the_padded_data_with_a_minimum() -> None:
    header = make_blob(_rng, k=3, chunk_length=16).header
    assert billable_symbols(header, 32) == 32
    assert billable_symbols(header, 1) == 2  # 3 x 16 bytes = 1.5 symbols, rounded up
    big = make_blob(_rng, k=5, n=8, chunk_length=4096).header
    assert billable_symbols(big, 32) == 5 * 4096 // 32  # n does not count


def test_each_quorum_has_its_share_of_the_reservation() -> None:
    clocks = Clocks()
    # 16 symbols/s for 10 s: quorum 0 holds 96 (60%), quorum 1 holds 64 (40%).
    m = meter(vault(alice=reserve(16)), clocks, overfill_once=False)
    m.debit([paid(ALICE), paid(ALICE)])  # 64 in each
    with pytest.raises(ReservationExhausted, match="quorum 1") as refused:
        m.debit([paid(ALICE)])  # quorum 0 would take 96, quorum 1 not 96 > 64
    assert refused.value.retry_after == pytest.approx(32 / 6.4)
    assert refused.value.payment_limit == "reservation"
    # A node serving quorum 0 only meters quorum 0's bucket.
    only0 = meter(vault(alice=reserve(16)), clocks, overfill_once=False, quorums=frozenset({0}))
    only0.debit([paid(ALICE), paid(ALICE), paid(ALICE)])
    with pytest.raises(ReservationExhausted, match="quorum 0"):
        only0.debit([paid(ALICE)])


def test_a_blob_larger_than_its_bucket_can_never_pass_without_overfill() -> None:
    m = meter(vault(bob=reserve(1, (0,), (100,))), Clocks(), overfill_once=False)
    with pytest.raises(BlobExceedsLimit, match="never"):  # 32 symbols, a bucket of 10
        m.debit([paid(BOB, quorums=(QUORUMS[0],))])


def test_refusals_change_nothing_and_the_batch_is_all_or_nothing() -> None:
    clocks = Clocks()
    q0 = (QUORUMS[0],)
    m = meter(vault(alice=reserve(16, (0,), (100,)), bob=reserve(4, (0,), (100,))), clocks)
    # Bob's bucket (40) takes one blob, and one more by overfill; then it is full.
    m.debit([paid(BOB, quorums=q0)])
    m.debit([paid(BOB, quorums=q0)])
    alice_blob = paid(ALICE, quorums=q0)
    with pytest.raises(ReservationExhausted):
        m.debit([alice_blob, paid(BOB, quorums=q0)])
    # Alice was not charged: her 160 symbols take five blobs, the one above included, as new.
    for blob in [alice_blob, *(paid(ALICE, quorums=q0) for _ in range(4))]:
        m.debit([blob])
    with pytest.raises(ReservationExhausted):
        m.debit([paid(ALICE, quorums=q0)])


def test_a_blob_twice_in_one_batch_is_charged_once() -> None:
    clocks, registry = Clocks(), CollectorRegistry()
    m = meter(vault(alice=reserve(100, (0,), (100,))), clocks, registry)
    blob = paid(ALICE, quorums=(QUORUMS[0],))
    m.debit([blob, blob])
    assert (
        registry.get_sample_value("operator_node_payment_symbols_total", {"kind": "reservation"})
        == S
    )


def test_a_blob_is_charged_once_for_as_long_as_its_timestamp_is_good() -> None:
    clocks, registry = Clocks(), CollectorRegistry()
    m = meter(vault(alice=reserve(100, (0,), (100,))), clocks, registry, timestamp_window=60.0)
    blob = paid(ALICE, quorums=(QUORUMS[0],))
    m.debit([blob])
    m.debit([blob])  # a retry: free
    sample = registry.get_sample_value
    assert (
        sample("operator_node_payment_blobs_total", {"kind": "reservation", "outcome": "accepted"})
        == 1
    )
    assert (
        sample(
            "operator_node_payment_blobs_total",
            {"kind": "reservation", "outcome": "already_charged"},
        )
        == 1
    )
    assert sample("operator_node_payment_symbols_total", {"kind": "reservation"}) == S
    clocks.advance(61)
    with pytest.raises(PaymentTimestampRejected):
        m.debit([blob])  # its signature is too old now: a new one is a new blob


def test_the_charged_set_is_bounded_and_full_refuses_without_charging() -> None:
    clocks = Clocks()
    m = meter(vault(alice=reserve(10**6, (0,), (100,), days=1)), clocks, max_charged=16)
    for _ in range(16):
        m.debit([paid(ALICE, quorums=(QUORUMS[0],))])
    with pytest.raises(PaymentsBusy):
        m.debit([paid(ALICE, quorums=(QUORUMS[0],))])
    clocks.advance(301)  # every entry's timestamp has left the window
    m.debit([paid(ALICE, at=clocks.wall, quorums=(QUORUMS[0],))])


@pytest.mark.parametrize(
    ("blob", "error"),
    [
        (lambda: paid(ALICE, signer=BOB), BadAccountSignature),
        (lambda: (paid(ALICE)[0], b"\x00" * 65), BadAccountSignature),
        (lambda: paid(BOB), NoReservation),
        (lambda: paid(ALICE, at=NOW + 200), ReservationInactive),  # past its end (+100)
        (lambda: paid(ALICE, at=NOW - 200), ReservationInactive),  # before its start
        (lambda: paid(ALICE, at=NOW - 400), PaymentTimestampRejected),
        (lambda: (dataclasses.replace(paid(ALICE)[0], payment=None), b""), PaymentRequired),
        (lambda: paid(ALICE, quorums=(QuorumParams(2, 33, 55),)), QuorumNotReserved),
        (
            lambda: paid(BOB, kind=PAYMENT_ON_DEMAND, cumulative=10**6 + 1, quorums=Q0),
            InsufficientDeposit,
        ),
        (
            lambda: paid(BOB, kind=PAYMENT_ON_DEMAND, cumulative=S * 10 - 1, quorums=Q0),
            InsufficientDeposit,
        ),
        (lambda: paid(BOB, kind=PAYMENT_ON_DEMAND, cumulative=10**5), QuorumNotOnDemand),
    ],
)
def test_what_the_vault_does_not_pay_for_is_refused(blob: object, error: type[Exception]) -> None:
    clocks = Clocks(wall=NOW)
    m = meter(vault(alice=reserve(16)), clocks, timestamp_window=1000.0)
    if error is PaymentTimestampRejected:
        m = meter(vault(alice=reserve(16)), clocks)
    with pytest.raises(error):
        m.debit([blob()])  # type: ignore[operator]


def test_on_demand_draws_on_one_global_bucket_without_overfill() -> None:
    clocks = Clocks()
    m = meter(vault(), clocks, on_demand_slack=1.0)  # 100 symbols/s x 2 s = 200
    q0 = (QUORUMS[0],)
    for n in range(1, 7):
        m.debit([paid(BOB, kind=PAYMENT_ON_DEMAND, cumulative=n * S * 10, quorums=q0)])
    with pytest.raises(OnDemandExhausted) as refused:  # 192 + 32 > 200
        m.debit([paid(BOB, kind=PAYMENT_ON_DEMAND, cumulative=7 * S * 10, quorums=q0)])
    assert refused.value.retry_after == pytest.approx(24 / 100)
    clocks.advance(0.24)
    m.debit([paid(BOB, kind=PAYMENT_ON_DEMAND, cumulative=7 * S * 10, quorums=q0)])


def test_observe_mode_counts_refusals_and_lets_them_through_uncharged() -> None:
    clocks, registry = Clocks(), CollectorRegistry()
    m = meter(vault(), clocks, registry, enforce=False)
    m.debit([paid(ALICE)])  # no reservation: counted, not raised
    sample = registry.get_sample_value
    assert sample("operator_node_payment_refusals_total", {"code": "no_reservation"}) == 1
    assert (
        sample("operator_node_payment_blobs_total", {"kind": "reservation", "outcome": "observed"})
        == 1
    )
    assert sample("operator_node_payment_symbols_total", {"kind": "reservation"}) in (None, 0)


def test_a_changed_reservation_keeps_the_level_and_a_vault_not_read_refuses() -> None:
    clocks = Clocks()
    source = vault(alice=reserve(4, (0,), (100,)))
    m = meter(source, clocks)
    q0 = (QUORUMS[0],)
    m.debit([paid(ALICE, quorums=q0)])
    m.debit([paid(ALICE, quorums=q0)])  # 64 in a bucket of 40: full
    with pytest.raises(ReservationExhausted):
        m.debit([paid(ALICE, quorums=q0)])
    assert source.snapshot is not None
    source.snapshot.reservations[raw(ALICE)] = reserve(400, (0,), (100,))
    m.debit([paid(ALICE, quorums=q0)])  # the same level, in a bucket of 4,000 now
    source.snapshot = None
    with pytest.raises(PaymentsUnavailable):
        m.debit([paid(ALICE, quorums=q0)])
    observing = meter(source, clocks, enforce=False)
    observing.debit([paid(ALICE, quorums=q0)])  # observing: an unread vault refuses nothing
    nothing = meter(Vault(absent=True), clocks)
    nothing.debit([(dataclasses.replace(paid(ALICE)[0], payment=None), b"")])  # no vault


def test_buckets_are_bounded_least_recently_used_first() -> None:
    clocks, registry = Clocks(), CollectorRegistry()
    accounts = [Account.create() for _ in range(20)]
    source = vault()
    assert source.snapshot is not None
    for account in accounts:
        source.snapshot.reservations[raw(account)] = reserve(1, (0,), (100,))
    m = meter(source, clocks, registry, max_buckets=16)
    for account in accounts:
        m.debit([paid(account, quorums=(QUORUMS[0],))])
    assert registry.get_sample_value("operator_node_payment_buckets") == 16
