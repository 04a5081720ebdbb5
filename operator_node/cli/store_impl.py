"""What ``operator-node store check`` and ``store repair`` do (arguments in ``cli.store``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry

from operator_node import __version__
from operator_node.cli.build import build_repair
from operator_node.cli.chain_session import open_connection, run_session
from operator_node.cli.credentials import load_bls_keypair
from operator_node.cli.output import human_stream, print_json, wants_json
from operator_node.config import Config, load_config
from operator_node.crypto.signer import LocalSigner
from operator_node.errors import ConfigError
from operator_node.health import Health
from operator_node.logging import configure_logging
from operator_node.metrics import Metrics
from operator_node.repair.audit import audit_batch
from operator_node.store import AsyncStore, open_store


async def _open(config: Config) -> AsyncStore:
    return await open_store(
        config.node.data_dir / "chunks",
        store_duration=config.store.store_duration,
        max_size=config.store.max_size,
        health=Health(),
        shards=config.store.shards,
    )


def check(args: argparse.Namespace) -> int:
    """Audit the whole store once; 1 if anything failed."""
    config = load_config(args.config)
    configure_logging("warning")  # the store's own lines would only repeat what is printed
    out = human_stream(args)
    document = asyncio.run(_check(config, quarantine=args.quarantine, out=out))
    damaged, inconsistent = document["damaged"], document["inconsistencies"]
    if wants_json(args):
        print_json(document)
    else:
        print(
            f"checked {document['batches']} batches, {document['chunk_bytes']} chunk bytes in "
            f"{document['seconds']} s: {len(damaged)} damaged, {len(inconsistent)} index "
            "inconsistencies"
        )
        for finding in damaged:
            kept = (
                f"; quarantined, copies in {', '.join(finding['quarantined'])}"
                if (finding["quarantined"])
                else ""
            )
            print(f"  damaged {finding['batch']}: {finding['problem']}{kept}")
        for problem in inconsistent:
            print(f"  index: {problem}")
    return 1 if damaged or inconsistent else 0


async def _check(config: Config, *, quarantine: bool, out: Any) -> dict[str, Any]:
    started = time.perf_counter()
    store = await _open(config)
    try:
        batches = await store.list_batches()
        damaged, total = [], 0
        for number, (batch_hash, _) in enumerate(batches, 1):
            checked, problem = await audit_batch(store, batch_hash)
            total += checked
            if problem:
                copies = await store.quarantine_batch(batch_hash) if quarantine else []
                damaged.append(
                    {"batch": "0x" + batch_hash.hex(), "problem": problem,
                     "quarantined": [str(copy) for copy in copies]}
                )  # fmt: skip
            if number % 100 == 0 or number == len(batches):
                print(f"store check: {number}/{len(batches)} batches", file=out, flush=True)
        inconsistent = await store.check()
    finally:
        await store.close()
    return {
        "batches": len(batches),
        "chunk_bytes": total,
        "seconds": round(time.perf_counter() - started, 2),
        "damaged": damaged,
        "inconsistencies": inconsistent,
    }


def repair(args: argparse.Namespace) -> int:
    """One repair pass with progress; 1 if a batch could not be repaired."""
    config = load_config(args.config)
    configure_logging("warning")  # failures still reach stderr, with their cause
    if not config.chain.rpc_url:
        raise ConfigError("chain.rpc_url must be set: the chain says which batches to hold")
    keypair = load_bls_keypair(config)
    if keypair is None:
        raise ConfigError("keys.bls_keystore must be set: it says which operator this node is")
    out = human_stream(args)
    connection = open_connection(config)
    settled: list[dict[str, str]] = []

    def progress(batch_hash: bytes, outcome: str, pending: int) -> None:
        settled.append({"batch": "0x" + batch_hash.hex(), "outcome": outcome})
        print(f"  {outcome:<12} 0x{batch_hash.hex()}  ({pending} pending)", file=out, flush=True)

    async def work() -> tuple[int, int]:
        store = await _open(config)
        try:
            metrics = Metrics(
                CollectorRegistry(), avs_name=config.node.avs_name, version=__version__
            )
            service = build_repair(
                config, connection, store, LocalSigner(keypair), metrics, Health(), progress
            )
            return await service.run_pass()
        finally:
            await store.close()

    started = time.perf_counter()
    repaired, failed = run_session(connection, work)
    seconds = round(time.perf_counter() - started, 2)
    if wants_json(args):
        summary = {"repaired": repaired, "failed": failed, "seconds": seconds}
        print_json({**summary, "batches": settled})
    else:
        done = f"{repaired} repaired, {failed} failed, {len(settled)} settled"
        print(f"store repair: {done} in {seconds} s")
    if failed:
        print(
            "operator-node: error: some batches could not be repaired (see above)", file=sys.stderr
        )
    return 1 if failed else 0
