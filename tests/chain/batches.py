"""Confirm batches on the devnet as a disperser would, choosing which operators signed them."""

from __future__ import annotations

import os
from collections.abc import Sequence

from chain.chain_support import BLS_KEYS, DEPLOYER, QUORUMS, Devnet

from operator_node.chain.confirm import ChainBatchHeader, Signature, build_signature_witness
from operator_node.crypto.bn254 import G1Point


async def confirm_batch(
    devnet: Devnet, signers: Sequence[int], quorums: tuple[int, ...] = QUORUMS
) -> ChainBatchHeader:
    """Confirm a batch with a fresh root over ``quorums`` at the current block, signed by the
    operators ``signers`` (indices into ``BLS_KEYS``), the others of the quorums non-signers;
    returns its header. The threshold is 50% of each quorum's stake."""
    connection = devnet.connection(DEPLOYER)
    try:
        writer = await connection.get_writer()
        reference = await writer.reader.get_current_block()
        await connection.w3.provider.make_request("evm_mine", [])  # the reference must be past
        header = ChainBatchHeader(os.urandom(32), quorums, (50,) * len(quorums), reference)
        message = header.compute_signed_hash()
        signatures = {
            BLS_KEYS[i].operator_id: Signature(
                G1Point.from_bytes(BLS_KEYS[i].sign(message)), BLS_KEYS[i].pubkey_g2_point
            )
            for i in signers
        }
        witness = await build_signature_witness(writer.reader, quorums, reference, signatures)
        await writer.confirm_batch(header, witness)
        return header
    finally:
        await connection.close()
