"""What ``operator-node devnet`` does (its arguments are in ``cli.devnet``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path

from operator_node.cli.client_impl import print_dispersal
from operator_node.client.disperser import DispersalError, Disperser
from operator_node.client.retriever import Retriever
from operator_node.devnet.network import MAX_NODES, Devnet, DevnetError
from operator_node.devnet.stakes import DEFAULT_ALPHA, DEFAULT_TOP_STAKE, StakeProfile
from operator_node.protocol.limits import DEFAULT_MAX_BLOB_SIZE


def run_devnet(args: argparse.Namespace) -> int:
    """Bring up the devnet, demonstrate a dispersal and a retrieval, run until interrupted."""
    devnet = _build_devnet(args)
    try:
        asyncio.run(_demonstrate(devnet, args.blob_size, args.k))
        if not args.once:
            _wait_for_interrupt(devnet)
    finally:
        print("devnet: stopping nodes and anvil", flush=True)
        devnet.stop()
    return 0


def _build_devnet(args: argparse.Namespace) -> Devnet:
    """The devnet the flags ask for: N operators, M of them running a node, and their stakes
    (10, 20, 30, ... tokens when all run one; the heavy-tailed profile otherwise or when
    --stake-alpha is given), under --dir or a new temporary directory. Raises
    :class:`DevnetError` for counts or a profile out of range."""
    operators = args.operators
    nodes = args.nodes if args.nodes is not None else operators
    if not 1 <= nodes <= min(operators, MAX_NODES):
        hint = "" if args.nodes is not None else " (choose how many run a node with --nodes)"
        raise DevnetError(
            f"--nodes must be between 1 and {MAX_NODES} and at most --operators, "
            f"got {nodes} nodes of {operators} operators{hint}"
        )
    profile = None
    if nodes < operators or args.stake_alpha is not None:
        try:
            profile = StakeProfile(
                alpha=DEFAULT_ALPHA if args.stake_alpha is None else args.stake_alpha,
                top=DEFAULT_TOP_STAKE if args.top_stake is None else args.top_stake,
            )
        except ValueError as exc:
            raise DevnetError(f"--stake-alpha/--top-stake: {exc}") from exc
    root = (args.dir or Path(tempfile.mkdtemp(prefix="operator-node-devnet-"))).resolve()
    size = max(DEFAULT_MAX_BLOB_SIZE, args.blob_size)  # the devnet AVS's largest blob
    if profile is None:
        return Devnet(
            root,
            stakes=[10 * (i + 1) for i in range(operators)],
            log=_log,
            max_blob_size=size,
            registration=args.registration,
        )
    if args.registration != "m2":
        raise DevnetError("--registration operator_sets needs every operator to run a node")
    return Devnet.scale(
        root, operators=operators, nodes=nodes, profile=profile, log=_log, max_blob_size=size
    )


def _log(message: str) -> None:
    print(f"devnet: {message}", flush=True)


async def _demonstrate(devnet: Devnet, blob_size: int, k: int | None) -> None:
    started = time.perf_counter()
    await devnet.start()
    print(f"devnet: up in {time.perf_counter() - started:.1f} s under {devnet.root}")
    if devnet.idle_operators:
        print(
            f"devnet: {devnet.operator_count} operators registered, {len(devnet.operators)} "
            f"running a node with {devnet.node_share:.1%} of the stake; the other "
            f"{len(devnet.idle_operators)} refuse connections"
        )
    data = os.urandom(blob_size)
    connection = devnet.connect(devnet.disperser)
    try:
        started = time.perf_counter()
        disperser = Disperser(
            connection,
            devnet.disperser,
            max_blob_size=devnet.max_blob_size,
            payer=devnet.payer,
        )
        result = await disperser.disperse(data, k=k)
        elapsed = time.perf_counter() - started
    except DispersalError as exc:
        if not devnet.idle_operators:
            raise
        # A scale devnet is worth running without it (a --k too small for its operators, say).
        print(f"devnet: the dispersal demonstration failed: {exc}")
        _print_endpoints(devnet, None)
        return
    finally:
        await connection.close()
    print(
        f"\ndispersed {blob_size} bytes in {elapsed:.2f} s "
        f"({', '.join(f'{s} {t * 1000:.0f} ms' for s, t in result.timings.items())})"
    )
    print_dispersal(result)
    down = devnet.operators[0]
    devnet.stop_node(down)
    print(f"\nstopped {down.name} (stake {down.stake}); retrieving from the others")
    reader = devnet.connect()
    try:
        started = time.perf_counter()
        blob = await Retriever(reader).retrieve(result.batch_header_hash, result.blob_index)
        elapsed = time.perf_counter() - started
    finally:
        await reader.close()
    if blob.data != data:
        raise DevnetError("retrieved bytes differ from the dispersed blob")
    print(
        f"retrieved {len(blob.data)} bytes in {elapsed:.2f} s from "
        f"{', '.join(f'{s} ({n} chunks)' for s, n in blob.sources.items())}: identical"
    )
    devnet.start_node(down)
    devnet.wait_ready(down)
    _print_endpoints(devnet, result.batch_header_hash.hex(), f"restarted {down.name}. ")


def _print_endpoints(devnet: Devnet, batch_hash: str | None, lead: str = "") -> None:
    print(f"\n{lead}Endpoints (details in {devnet.root}/devnet.json):")
    print(f"  chain     {devnet.anvil.rpc_url}")
    for op in devnet.operators:
        print(
            f"  {op.name}  stake {op.stake:3}  curl {op.api_url}/eigen/node/services   "
            f"metrics http://127.0.0.1:{op.metrics_port}/metrics   socket {op.socket}"
        )
    if devnet.idle_operators:
        print(
            f"  and {len(devnet.idle_operators)} operators without a node (stakes "
            f"{devnet.idle_operators[0].stake} down to {devnet.idle_operators[-1].stake})"
        )
    for account in devnet.paying_accounts:
        if account.reservation is not None:
            what = (
                f"reserves {account.reservation.symbols_per_second} symbols/s "
                f"({account.reservation.bytes_per_second() // 1024} KiB/s) on quorums "
                f"{list(account.reservation.quorums)}"
            )
        else:
            what = f"has {account.deposit / 10**18:g} ETH on deposit for on-demand dispersal"
        print(f"  account   {account.name} {account.address} {what}  keystore {account.keystore}")
    if batch_hash is not None:
        print(
            f"  a chunk   curl -s {devnet.operators[-1].api_url}/v1/chunks/0x{batch_hash}/0 | wc -c"
        )


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM ends the devnet the way Ctrl-C does: through the same clean shutdown.
    raise KeyboardInterrupt


def _wait_for_interrupt(devnet: Devnet) -> None:
    print("\ndevnet running; Ctrl-C stops it", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while all(op.process is None or op.process.poll() is None for op in devnet.operators):
            time.sleep(0.5)
        print("devnet: a node exited on its own; stopping")
    except KeyboardInterrupt:
        pass
