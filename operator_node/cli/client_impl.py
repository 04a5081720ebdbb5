"""What ``operator-node disperse`` and ``retrieve`` do (their arguments are in ``cli.client``).

Both read ``[chain]`` from the config; ``disperse`` also needs ``[keys] ecdsa_keystore``, the
key of an allowed disperser (it signs the requests and sends ``confirmBatch``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from operator_node.chain.client import ChainConnection
from operator_node.cli.build import load_account
from operator_node.cli.chain_session import open_connection, run_session
from operator_node.client.disperser import DispersalResult, Disperser, summarize_failures
from operator_node.client.retriever import Retriever
from operator_node.config import Config, load_config
from operator_node.errors import ConfigError, OperatorNodeError


def _connection(config: Config, *, with_account: bool) -> ChainConnection:
    if not config.chain.rpc_url:
        raise ConfigError("chain.rpc_url must be set to disperse or retrieve")
    account = asyncio.run(load_account(config)) if with_account else None
    if with_account and account is None:
        raise ConfigError("keys.ecdsa_keystore (an allowed disperser's key) is needed to disperse")
    return open_connection(config, account)


def disperse(args: argparse.Namespace) -> int:
    """Disperse ``args.file``, confirm it on chain and print the summary; returns the exit code."""
    config = load_config(args.config)
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise OperatorNodeError(f"cannot read {args.file}: {exc.strerror}") from None
    quorums = [int(q) for q in args.quorums.split(",") if q.strip()]
    connection = _connection(config, with_account=True)
    assert connection.account is not None
    disperser = Disperser(connection, connection.account)

    async def run() -> DispersalResult:
        return await disperser.disperse(
            data,
            quorums=quorums,
            k=args.k,
            adversary=args.adversary,
            confirmation=args.confirmation,
            progress=_progress if sys.stderr.isatty() else None,
        )

    print_dispersal(run_session(connection, run))
    return 0


def print_dispersal(result: DispersalResult) -> None:
    """The human summary of a confirmed dispersal."""
    print(f"batch_header_hash 0x{result.batch_header_hash.hex()}")
    print(f"blob_index        {result.blob_index}")
    print(f"batch_id          {result.batch_id} (reference block {result.reference_block})")
    code = ("GF(2^8)", "GF(2^16)")[result.code]
    print(f"encoding          {code} k={result.k} n={result.n}")
    for quorum, (signed, total) in sorted(result.signed_stake.items()):
        print(
            f"quorum {quorum}          signed stake {signed}/{total} ({100 * signed / total:.1f}%)"
        )
    failed = [r for r in result.replies if not r.signature]
    # With hundreds of operators, the refusals are summed up by kind rather than listed.
    shown = result.replies if len(failed) <= 10 else [r for r in result.replies if r.signature]
    for reply in shown:
        outcome = "signed" if reply.signature else f"failed: {reply.error}"
        operator = f"0x{reply.operator_id.hex()[:16]}"
        print(f"  {operator} {reply.socket:21} {reply.chunks:5} chunks  {outcome}")
    if len(shown) < len(result.replies):
        print(f"  {len(failed)} operators did not sign: {summarize_failures(failed)}")


def _progress(step: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    print(
        f"\r{step} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
        end="",
        file=sys.stderr,
        flush=True,
    )
    if done == total:
        print(file=sys.stderr)


def retrieve(args: argparse.Namespace) -> int:
    """Rebuild a dispersed blob from the operators into ``--output``; returns the exit code."""
    config = load_config(args.config)
    digits = args.batch_header_hash.removeprefix("0x")
    if len(digits) != 64:
        raise ConfigError("batch_header_hash must be 0x and 64 hex digits")
    batch_hash = bytes.fromhex(digits)
    connection = _connection(config, with_account=False)

    async def run() -> bytes:
        blob = await Retriever(connection).retrieve(batch_hash, args.blob_index)
        for socket, count in blob.sources.items():
            print(f"  {socket:21} {count} chunks", file=sys.stderr)
        for socket, why in blob.failures.items():
            print(f"  {socket:21} skipped: {why}", file=sys.stderr)
        return blob.data

    data = run_session(connection, run)
    args.output.write_bytes(data)
    print(f"wrote {len(data)} bytes to {args.output}")
    return 0
