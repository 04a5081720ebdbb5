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
from operator_node.client.disperser import Disperser
from operator_node.client.retriever import Retriever
from operator_node.devnet.network import Devnet, DevnetError


def run_devnet(args: argparse.Namespace) -> int:
    """Bring up the devnet, demonstrate a dispersal and a retrieval, run until interrupted."""
    if not 1 <= args.operators <= 8:
        raise DevnetError("--operators must be between 1 and 8")
    root = args.dir or Path(tempfile.mkdtemp(prefix="operator-node-devnet-"))
    stakes = [10 * (i + 1) for i in range(args.operators)]
    devnet = Devnet(root.resolve(), stakes=stakes, log=lambda m: print(f"devnet: {m}", flush=True))
    try:
        asyncio.run(_demonstrate(devnet, args.blob_size, args.k))
        if not args.once:
            _wait_for_interrupt(devnet)
    finally:
        print("devnet: stopping nodes and anvil", flush=True)
        devnet.stop()
    return 0


async def _demonstrate(devnet: Devnet, blob_size: int, k: int) -> None:
    started = time.perf_counter()
    await devnet.start()
    print(f"devnet: up in {time.perf_counter() - started:.1f} s under {devnet.root}")
    data = os.urandom(blob_size)
    connection = devnet.connect(devnet.disperser)
    try:
        started = time.perf_counter()
        result = await Disperser(connection, devnet.disperser).disperse(data, k=k)
        elapsed = time.perf_counter() - started
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
    _print_endpoints(devnet, result.batch_header_hash.hex())


def _print_endpoints(devnet: Devnet, batch_hash: str) -> None:
    print(
        f"\nrestarted {devnet.operators[0].name}. Endpoints (details in {devnet.root}/devnet.json):"
    )
    print(f"  chain     {devnet.anvil.rpc_url}")
    for op in devnet.operators:
        print(
            f"  {op.name}  stake {op.stake:3}  curl http://{op.socket}/eigen/node/services   "
            f"metrics http://127.0.0.1:{op.metrics_port}/metrics"
        )
    print(
        f"  a chunk   curl -s http://{devnet.operators[-1].socket}/v1/chunks/0x{batch_hash}/0 "
        "| wc -c"
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
