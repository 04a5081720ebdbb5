"""Reserved bandwidth and on-demand limits, metered by every node of a real devnet.

Anvil, the contracts with the payment vault, four operator daemons metering with a 16 s bucket
window and a 1 s vault refresh. Accounts are made fresh per test and given reservations by the
AVS's owner on chain; blobs are sent to every node over real HTTP. Every refusal is checked on
every node, with nothing stored, nothing signed and nothing charged.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from support.daemon import http_get, scrape
from support.store_chunks import Reply, post_store_chunks

from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.client.disperser import Disperser, InsufficientSignatures
from operator_node.devnet.network import Devnet
from operator_node.payments.meter import billable_symbols
from operator_node.payments.vault import (
    GlobalParams,
    Reservation,
    find_vault,
    read_global_params,
    remove_reservation,
    set_global_params,
    set_reservation,
)
from operator_node.protocol.headers import (
    PAYMENT_ON_DEMAND,
    PAYMENT_RESERVATION,
    Payment,
    QuorumParams,
)
from operator_node.protocol.payment import sign_blob_payment
from operator_node.protocol.wire import encode_store_chunks

pytestmark = pytest.mark.slow

WINDOW = 16.0  # the nodes' bucket window, seconds
REFRESH = 1.0  # the nodes' vault refresh, seconds
RATE = 8  # symbols a second: a bucket of 128 symbols, four 32-symbol blobs
QUORUMS = (QuorumParams(0, 25, 50),)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    net = Devnet(
        tmp_path_factory.mktemp("devnet-payments"),
        payments={"bucket_window": WINDOW, "refresh_interval": REFRESH},
    )
    asyncio.run(net.start())
    yield net
    net.stop()


async def _owner_does(devnet: Devnet, action: Callable[..., object], *args: object) -> None:
    """Run a vault write (``set_reservation`` etc.) as the AVS's owner."""
    connection = devnet.connect(devnet.owner)
    try:
        writer = await connection.get_writer()
        vault = await find_vault(writer.reader.contracts)
        await action(writer, vault, *args)  # type: ignore[misc]
    finally:
        await connection.close()


async def _reserve(devnet: Devnet, account: str, rate: int = RATE, **times: int) -> None:
    now = int(time.time())
    start, end = times.get("start", now - 60), times.get("end", now + 3600)
    reservation = Reservation(rate, start, end, (0,), (100,))
    await _owner_does(devnet, set_reservation, account, reservation)


def _seen_by_all(devnet: Devnet, check: Callable[[dict[str, float]], bool]) -> None:
    """Wait (a few refreshes at most) until every node's metrics pass ``check``."""
    deadline = time.monotonic() + 10 * REFRESH + 5
    for op in devnet.operators:
        url = f"http://127.0.0.1:{op.metrics_port}/metrics"
        while not check(scrape(url)):
            assert time.monotonic() < deadline, f"{op.name} never followed the vault"
            time.sleep(0.1)


def _reservations(devnet: Devnet) -> float:
    url = f"http://127.0.0.1:{devnet.operators[0].metrics_port}/metrics"
    return scrape(url)["operator_node_payment_reservations"]


async def _new_reserved(devnet: Devnet, rate: int = RATE, **times: int) -> LocalAccount:
    """A fresh account with a reservation every node has read."""
    account: LocalAccount = Account.create()
    before = _reservations(devnet)
    await _reserve(devnet, account.address, rate, **times)
    _seen_by_all(devnet, lambda m: m["operator_node_payment_reservations"] > before)
    return account


def _blob(
    devnet: Devnet,
    payer: LocalAccount,
    *,
    kind: int = PAYMENT_RESERVATION,
    cumulative: int = 0,
    timestamp: int | None = None,
    signer: LocalAccount | None = None,
) -> EncodedBlob:
    """A 1 KiB blob (k = 8: 32 symbols) paid by ``payer`` (signed by ``signer``, if given)."""
    assert devnet.deployment is not None
    blob = EncodedBlob.from_data(os.urandom(1024), k=8, n=40, quorums=QUORUMS, account=bytes(20))
    vault = bytes.fromhex(devnet.deployment.payment_vault[2:])
    payment = Payment(kind, timestamp or time.time_ns(), cumulative)
    paid = blob.paid(payment, payer, devnet.anvil.chain_id, vault)
    if signer is not None:
        forged = sign_blob_payment(signer, devnet.anvil.chain_id, vault, paid.header)
        paid = replace(paid, account_signature=forged)
    return paid


async def _batch(devnet: Devnet, *blobs: EncodedBlob) -> PreparedBatch:
    block, states = await devnet.fetch_operator_state()
    return prepare_batch(list(blobs), states, block)


def _send(devnet: Devnet, batch: PreparedBatch) -> dict[str, Reply]:
    """Every node its request of ``batch``, all at once (the nodes meter within milliseconds
    of each other): replies by node name."""

    def one(index: int) -> Reply:
        op = devnet.operators[index]
        body = b"".join(encode_store_chunks(batch.requests[op.keypair.operator_id]))
        return post_store_chunks(devnet, op, body)

    with ThreadPoolExecutor(len(devnet.operators)) as pool:
        replies = list(pool.map(one, range(len(devnet.operators))))
    return {op.name: reply for op, reply in zip(devnet.operators, replies, strict=True)}


def _symbols(devnet: Devnet) -> list[float]:
    """Each node's symbols charged to accounts, in all."""
    out = []
    for op in devnet.operators:
        metrics = scrape(f"http://127.0.0.1:{op.metrics_port}/metrics")
        out.append(sum(v for k, v in metrics.items() if k.startswith("operator_node_payment_sym")))
    return out


def _assert_refused_everywhere(
    devnet: Devnet, batch: PreparedBatch, replies: dict[str, Reply], status: int, code: str
) -> None:
    """Every node refused ``batch`` with ``status`` and ``code``, and holds nothing of it."""
    for op in devnet.operators:
        reply = replies[op.name]
        assert (reply.status, reply.body["error"]) == (status, code), (op.name, reply)
        assert "signature" not in reply.body
        url = f"{op.api_url}/v1/chunks/0x{batch.header_hash.hex()}/0"
        assert http_get(url)[0] == 404


def _assert_signed_everywhere(replies: dict[str, Reply]) -> None:
    for name, reply in replies.items():
        assert reply.status == 200 and reply.body["signature"].startswith("0x"), (name, reply)


async def test_a_burst_within_the_reservation_passes_the_next_blob_is_429_everywhere_and_passes_after_the_drain(  # noqa: E501
    devnet: Devnet,
) -> None:
    payer = await _new_reserved(devnet)
    capacity = RATE * WINDOW
    assert billable_symbols(_blob(devnet, payer).header, 32) == 32
    sent = 0.0
    refused = None
    for _ in range(8):  # 128 symbols hold four blobs, and overfill takes one more
        batch = await _batch(devnet, _blob(devnet, payer))
        replies = _send(devnet, batch)
        if any(reply.status != 200 for reply in replies.values()):
            refused = (batch, replies)
            break
        _assert_signed_everywhere(replies)
        sent += 32
    assert refused is not None, "the reservation never ran out"
    assert capacity <= sent <= capacity + 32
    batch, replies = refused
    symbols = _symbols(devnet)
    _assert_refused_everywhere(devnet, batch, replies, 429, "reservation_exhausted")
    waits = []
    for reply in replies.values():
        assert reply.body["limit"] == "reservation"
        assert reply.retry_after is not None and int(reply.retry_after) >= 1
        waits.append(float(reply.body["retry_after"]))
    assert 0 < max(waits) <= 32 / RATE + 1  # one blob's worth at most over the capacity

    # Atomic: a batch with a blob of a well-funded account and one over its limit charges
    # neither; the first alone is then charged as new, not as already paid.
    rich = await _new_reserved(devnet, rate=1 << 20)
    fresh = _blob(devnet, rich)
    over = await _batch(devnet, fresh, _blob(devnet, payer))
    _assert_refused_everywhere(devnet, over, _send(devnet, over), 429, "reservation_exhausted")
    assert _symbols(devnet) == symbols  # nothing charged by any refusal
    alone = await _batch(devnet, fresh)
    _assert_signed_everywhere(_send(devnet, alone))
    assert _symbols(devnet) == [before + 32 for before in symbols]

    # Once the bucket has leaked, the refused batch passes on every node.
    await asyncio.sleep(max(waits) + 0.2)
    _assert_signed_everywhere(_send(devnet, batch))

    # Sent again (a disperser's retry, signed afresh a second later), it is stored already and
    # not charged twice.
    before = _symbols(devnet)
    await asyncio.sleep(1.1)
    _assert_signed_everywhere(_send(devnet, batch))
    assert _symbols(devnet) == before


async def test_payments_not_the_accounts_own_or_outside_its_reservation_are_refused_everywhere(
    devnet: Devnet,
) -> None:
    payer = await _new_reserved(devnet, rate=1 << 16)
    stranger: LocalAccount = Account.create()
    now = int(time.time())
    expired = await _new_reserved(devnet, start=now - 7200, end=now - 3600)
    early = await _new_reserved(devnet, start=now + 3600, end=now + 7200)
    before = _symbols(devnet)
    unpaid = EncodedBlob.from_data(os.urandom(1024), k=8, n=40, quorums=QUORUMS, account=bytes(20))
    cases = [
        (_blob(devnet, payer, signer=stranger), 401, "bad_account_signature"),
        (_blob(devnet, stranger), 403, "no_reservation"),
        (_blob(devnet, expired), 403, "reservation_inactive"),
        (_blob(devnet, early), 403, "reservation_inactive"),
        (unpaid, 403, "payment_required"),
        (_blob(devnet, payer, timestamp=time.time_ns() - 600 * 10**9), 422, "payment_timestamp"),
    ]
    for blob, status, code in cases:
        batch = await _batch(devnet, blob)
        _assert_refused_everywhere(devnet, batch, _send(devnet, batch), status, code)
    assert _symbols(devnet) == before
    # The same account, signing its own blob in time, is served.
    _assert_signed_everywhere(_send(devnet, await _batch(devnet, _blob(devnet, payer))))


async def test_on_demand_beyond_the_global_rate_is_refused_and_reservations_are_not(
    devnet: Devnet,
) -> None:
    assert devnet.deployment is not None
    spender = devnet.paying("on-demand")
    reserved = await _new_reserved(devnet, rate=1 << 16)
    connection = devnet.connect()
    try:
        vault = await find_vault((await connection.get_reader()).contracts)
        original = await read_global_params(vault)
    finally:
        await connection.close()
    # 8 symbols a second with a 4 s burst: 35 symbols (x 1.1 slack) hold one blob, not two.
    tight = GlobalParams(
        original.min_symbols_per_blob, original.price_per_symbol, original.reservation_period,
        8, 4, original.on_demand_quorums,
    )  # fmt: skip
    await _owner_does(devnet, set_global_params, tight)
    try:
        await asyncio.sleep(3 * REFRESH + 0.5)  # the nodes follow within a refresh
        price = 32 * tight.price_per_symbol
        first = await _batch(
            devnet, _blob(devnet, spender, kind=PAYMENT_ON_DEMAND, cumulative=price)
        )
        _assert_signed_everywhere(_send(devnet, first))
        second = await _batch(
            devnet, _blob(devnet, spender, kind=PAYMENT_ON_DEMAND, cumulative=2 * price)
        )
        replies = _send(devnet, second)
        _assert_refused_everywhere(devnet, second, replies, 429, "on_demand_exhausted")
        assert all(reply.body["limit"] == "on_demand" for reply in replies.values())
        # Reservations do not draw on the on-demand rate.
        _assert_signed_everywhere(_send(devnet, await _batch(devnet, _blob(devnet, reserved))))
        # More than the deposit, or less than the blob costs: refused before any bucket.
        deposit = 10**18
        for cumulative in (deposit + 1, price - 1):
            blob = _blob(devnet, spender, kind=PAYMENT_ON_DEMAND, cumulative=cumulative)
            batch = await _batch(devnet, blob)
            _assert_refused_everywhere(
                devnet, batch, _send(devnet, batch), 403, "insufficient_deposit"
            )
    finally:
        await _owner_does(devnet, set_global_params, original)


async def test_the_nodes_follow_reservation_changes_on_chain_within_a_refresh(
    devnet: Devnet,
) -> None:
    payer = await _new_reserved(devnet, rate=1)  # 16 symbols: one blob by overfill
    _assert_signed_everywhere(_send(devnet, await _batch(devnet, _blob(devnet, payer))))
    batch = await _batch(devnet, _blob(devnet, payer))
    _assert_refused_everywhere(devnet, batch, _send(devnet, batch), 429, "reservation_exhausted")

    await _reserve(devnet, payer.address, rate=1 << 16)  # raised: the level stays, it drains
    await asyncio.sleep(2 * REFRESH + 0.5)
    _assert_signed_everywhere(_send(devnet, batch))

    await _owner_does(devnet, remove_reservation, payer.address)
    await asyncio.sleep(2 * REFRESH + 0.5)
    batch = await _batch(devnet, _blob(devnet, payer))
    _assert_refused_everywhere(devnet, batch, _send(devnet, batch), 403, "no_reservation")


async def test_the_client_backs_off_on_429_and_names_the_limit_when_it_gives_up(
    devnet: Devnet,
) -> None:
    payer = await _new_reserved(devnet)
    # Fill the bucket past its capacity (five blobs), as a burst would.
    for _ in range(5):
        _send(devnet, await _batch(devnet, _blob(devnet, payer)))
    connection = devnet.connect(devnet.disperser)
    try:
        impatient = Disperser(connection, devnet.disperser, payer=payer, max_payment_wait=0)
        with pytest.raises(InsufficientSignatures) as refused:
            await impatient.disperse(os.urandom(1024), k=8)
        for reply in refused.value.replies:
            assert "429 reservation_exhausted" in reply.error and "gave up" in reply.error
        started = time.monotonic()
        patient = Disperser(connection, devnet.disperser, payer=payer, max_payment_wait=30)
        result = await patient.disperse(os.urandom(1024), k=8)
        assert all(reply.signature for reply in result.replies), result.replies
        assert time.monotonic() - started >= 1.0  # it waited for the bucket to drain
    finally:
        await connection.close()
