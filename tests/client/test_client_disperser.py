"""The disperser's handling of what operators answer (signatures parsed once, refusals summed
up), and of blobs outside the AVS's limits."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account

from operator_node.chain.client import ChainConnection
from operator_node.client.disperser import (
    DispersalError,
    Disperser,
    OperatorReply,
    _parse_signatures,
    summarize_failures,
)
from operator_node.config import ChainSection
from operator_node.crypto.bls import BlsKeyPair
from operator_node.devnet.ports import free_port

MESSAGE = b"\x42" * 32
KEYS = [BlsKeyPair.from_secret(500 + i) for i in range(3)]


def _reply(i: int, signature: bytes | None, error: str = "") -> OperatorReply:
    return OperatorReply(KEYS[i].operator_id, f"127.0.0.1:{9000 + i}", 4, signature, error)


def test_signatures_that_are_not_points_make_non_signers() -> None:
    good = _reply(0, KEYS[0].sign(MESSAGE))
    garbage = _reply(1, b"\x01" * 64)  # not a point on the curve
    unknown = _reply(2, KEYS[2].sign(MESSAGE))  # no key registered for it
    keys = {KEYS[0].operator_id: KEYS[0].pubkey_g2, KEYS[1].operator_id: KEYS[1].pubkey_g2}
    parsed = _parse_signatures([good, garbage, unknown], keys)
    assert list(parsed) == [KEYS[0].operator_id]
    assert parsed[KEYS[0].operator_id].sigma.to_bytes() == KEYS[0].sign(MESSAGE)


def test_refusals_are_summed_up_by_kind_largest_first() -> None:
    replies = [_reply(0, None, "ClientConnectorError: Cannot connect to host 127.0.0.1:9000")] * 5
    replies += [_reply(1, None, "422 excessive_overhead: blob 0: n=97 chunks ...")] * 2
    replies += [_reply(2, b"sig")]
    summary = summarize_failures(replies)
    assert summary.startswith("5 x ClientConnectorError (e.g. 0x")
    assert "2 x 422 excessive_overhead (e.g." in summary
    assert "sig" not in summary and summary.count(";") == 1
    many = [_reply(0, None, f"{code} x: y") for code in range(6)]
    assert summarize_failures(many).endswith("3 more of other kinds")


async def test_disperser_refuses_a_blob_outside_the_avs_limits_before_any_chain_call() -> None:
    # The RPC is a closed port: a refusal that needed the chain would fail differently.
    chain = replace(
        ChainSection(),
        rpc_url=f"http://127.0.0.1:{free_port()}",
        registry_coordinator="0x" + "11" * 20,
    )
    connection = ChainConnection(chain, metrics=None, account=None)
    account = Account.from_key(b"\x11" * 32)
    try:
        disperser = Disperser(connection, account, max_blob_size=1000, min_margin=25)
        with pytest.raises(DispersalError, match=r"holds 1001 bytes.*\(1000 bytes"):
            await disperser.disperse(b"x" * 1001)
        with pytest.raises(DispersalError, match=r"= 20% is below .* \(25%"):
            await disperser.disperse(b"x" * 1000, adversary=30, confirmation=50)
    finally:
        await connection.close()
