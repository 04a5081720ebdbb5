"""What ``operator-node disperse`` and ``retrieve`` do (their arguments are in ``cli.client``).

Both read ``[chain]`` from the config; ``disperse`` also needs ``[keys] ecdsa_keystore``, the
key of an allowed disperser (it signs the requests and sends ``confirmBatch``).

``disperse`` succeeds (exit 0) only when every operator signed, or with ``--accept-partial``
when the batch was confirmed all the same; a quorum below its threshold is never confirmed
(exit 1, no transaction sent). With ``--json`` the summary is one document on stdout, which on
exit 1 also carries ``error`` and ``code``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from operator_node.chain.client import ChainConnection
from operator_node.cli.build import load_account
from operator_node.cli.chain_session import open_connection, run_session
from operator_node.cli.credentials import load_paying_account
from operator_node.cli.output import UsageError, human_stream, print_json, wants_json
from operator_node.cli.progress import progress_for
from operator_node.client.disperser import (
    DispersalResult,
    Disperser,
    InsufficientSignatures,
    OperatorReply,
    summarize_failures,
)
from operator_node.client.retriever import RetrievedBlob, Retriever
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
    payer = None
    if args.account is not None:
        payer = load_paying_account(
            args.account, args.account_password_file, config.keys.allow_insecure_permissions
        )
    disperser = Disperser(
        connection,
        connection.account,
        max_overhead=config.dispersal.max_overhead or math.inf,
        max_blob_size=config.dispersal.max_blob_size,
        min_margin=config.dispersal.min_margin,
        payer=payer,
        payment=args.payment,
        payment_vault=config.payments.payment_vault,
        max_payment_wait=args.max_payment_wait,
    )

    progress = progress_for(wants_json(args))

    async def run() -> DispersalResult:
        try:
            return await disperser.disperse(
                data,
                quorums=quorums,
                k=args.k,
                adversary=args.adversary,
                confirmation=args.confirmation,
                progress=progress,
            )
        finally:
            if progress is not None:
                progress.finish()

    try:
        result = run_session(connection, run)
    except InsufficientSignatures as exc:
        return _report_unconfirmed(args, exc)
    return _report_dispersal(args, result, len(data))


def _report_dispersal(args: argparse.Namespace, result: DispersalResult, size: int) -> int:
    """Print the summary of a confirmed dispersal; 1 if it is partial and that was not accepted."""
    failed = [reply for reply in result.replies if reply.signature is None]
    problem = ""
    if failed and not args.accept_partial:
        problem = (
            f"confirmed, but {len(failed)} of {len(result.replies)} operators did not sign "
            f"({summarize_failures(failed)}); pass --accept-partial to accept that"
        )
    if wants_json(args):
        document = dispersal_document(result, size)
        print_json({**document, "error": problem, "code": 1} if problem else document)
    else:
        print_dispersal(result)
    if problem:
        print(f"operator-node: error: {problem}", file=sys.stderr)
        return 1
    return 0


def _report_unconfirmed(args: argparse.Namespace, exc: InsufficientSignatures) -> int:
    """A quorum short of its threshold: who did not sign and why, then the error; exit 1."""
    if wants_json(args):
        print_json(
            {
                "error": str(exc),
                "code": 1,
                "confirmed": False,
                "quorums": _quorum_documents(exc.signed_stake, exc.thresholds),
                "operators": _operator_documents(exc.replies),
            }
        )
    else:
        _print_quorums(exc.signed_stake, exc.thresholds, sys.stderr)
        _print_replies(exc.replies, sys.stderr)
    print(f"operator-node: error: {exc}", file=sys.stderr)
    return 1


# The encoding-validity profiles by number, as --json names them.
_PROFILES = ("none", "fp-v1")


def dispersal_document(result: DispersalResult, size: int) -> dict[str, Any]:
    """``disperse --json``: stakes are decimal strings (they exceed what a JSON double holds)."""
    return {
        "batch_header_hash": "0x" + result.batch_header_hash.hex(),
        "blob_index": result.blob_index,
        "batch_id": result.batch_id,
        "reference_block": result.reference_block,
        "confirm_tx": result.confirm_tx,
        "confirmed": True,
        "complete": result.complete,
        "size": size,
        "erasure_code": ("gf8", "gf16")[result.code],
        "fingerprint": _PROFILES[result.fingerprint],
        "k": result.k,
        "n": result.n,
        "quorums": _quorum_documents(result.signed_stake, result.thresholds),
        "operators": _operator_documents(result.replies),
        "timings": {step: round(seconds, 6) for step, seconds in result.timings.items()},
        "payment": {"account": result.payer, "kind": result.payment} if result.payer else None,
    }


def _quorum_documents(
    signed_stake: Mapping[int, tuple[int, int]], thresholds: Mapping[int, int]
) -> list[dict[str, Any]]:
    return [
        {
            "quorum": quorum,
            "signed_stake": str(signed),
            "total_stake": str(total),
            "signed_percent": round(100 * signed / total, 3) if total else 0.0,
            "threshold": thresholds.get(quorum),
        }
        for quorum, (signed, total) in sorted(signed_stake.items())
    ]


def _operator_documents(replies: Sequence[OperatorReply]) -> list[dict[str, Any]]:
    return [
        {
            "operator_id": "0x" + reply.operator_id.hex(),
            "socket": reply.socket,
            "chunks": reply.chunks,
            "signed": reply.signature is not None,
            "error": None if reply.signature is not None else reply.error or "no answer",
        }
        for reply in replies
    ]


def print_dispersal(result: DispersalResult) -> None:
    """The human summary of a confirmed dispersal."""
    print(f"batch_header_hash 0x{result.batch_header_hash.hex()}")
    print(f"blob_index        {result.blob_index}")
    print(f"batch_id          {result.batch_id} (reference block {result.reference_block})")
    if result.confirm_tx:
        print(f"confirm tx        {result.confirm_tx}")
    code = ("GF(2^8)", "GF(2^16)")[result.code]
    checked = "fingerprints FP-v1" if result.fingerprint else "no fingerprints"
    print(f"encoding          {code} k={result.k} n={result.n}, {checked}")
    if result.payer:
        print(f"paid by           {result.payer} ({result.payment.replace('_', '-')})")
    _print_quorums(result.signed_stake, result.thresholds, sys.stdout)
    _print_replies(result.replies, sys.stdout)


def _print_quorums(
    signed_stake: Mapping[int, tuple[int, int]], thresholds: Mapping[int, int], stream: TextIO
) -> None:
    for quorum, (signed, total) in sorted(signed_stake.items()):
        share = f"{100 * signed / total:.1f}%" if total else "no stake"
        threshold = f", threshold {thresholds[quorum]}%" if quorum in thresholds else ""
        print(
            f"quorum {quorum}          signed stake {signed}/{total} ({share}{threshold})",
            file=stream,
        )


def _print_replies(replies: Sequence[OperatorReply], stream: TextIO) -> None:
    """One line per operator; with many failures, the failures summed up by kind instead."""
    failed = [r for r in replies if not r.signature]
    shown = replies if len(failed) <= 10 else [r for r in replies if r.signature]
    for reply in shown:
        outcome = "signed" if reply.signature else f"failed: {reply.error or 'no answer'}"
        operator = f"0x{reply.operator_id.hex()[:16]}"
        print(f"  {operator} {reply.socket:21} {reply.chunks:5} chunks  {outcome}", file=stream)
    if len(shown) < len(replies):
        print(f"  {len(failed)} operators did not sign: {summarize_failures(failed)}", file=stream)


def retrieve(args: argparse.Namespace) -> int:
    """Rebuild a dispersed blob from the operators into ``--output``; returns the exit code."""
    config = load_config(args.config)
    batch_hash = _parse_batch_hash(args.batch_header_hash)
    connection = _connection(config, with_account=False)
    progress = progress_for(wants_json(args))

    async def run() -> RetrievedBlob:
        try:
            return await Retriever(connection).retrieve(
                batch_hash, args.blob_index, progress=progress
            )
        finally:
            if progress is not None:
                progress.finish()

    blob = run_session(connection, run)
    for socket, count in blob.sources.items():
        print(f"  {socket:21} {count} chunks", file=sys.stderr)
    for socket, why in blob.failures.items():
        print(f"  {socket:21} skipped: {why}", file=sys.stderr)
    try:
        args.output.write_bytes(blob.data)
    except OSError as exc:
        raise OperatorNodeError(f"cannot write {args.output}: {exc.strerror}") from None
    if wants_json(args):
        print_json(retrieval_document(blob, batch_hash, args.blob_index, str(args.output)))
    else:
        print(f"wrote {len(blob.data)} bytes to {args.output}", file=human_stream(args))
    return 0


def _parse_batch_hash(text: str) -> bytes:
    digits = text.removeprefix("0x")
    try:
        if len(digits) != 64:
            raise ValueError
        return bytes.fromhex(digits)
    except ValueError:
        raise UsageError(f"batch_header_hash must be 0x and 64 hex digits, not {text!r}") from None


def retrieval_document(
    blob: RetrievedBlob, batch_hash: bytes, blob_index: int, output: str
) -> dict[str, Any]:
    """``retrieve --json``: what was rebuilt, where it was written and where it came from."""
    header = blob.header
    return {
        "batch_header_hash": "0x" + batch_hash.hex(),
        "blob_index": blob_index,
        "output": output,
        "size": len(blob.data),
        "erasure_code": ("gf8", "gf16")[header.code],
        "fingerprint": _PROFILES[header.fingerprint],
        "k": header.k,
        "n": header.n,
        "chunks_used": blob.chunks_used,
        "sources": [{"socket": s, "chunks": n} for s, n in blob.sources.items()],
        "failures": [{"socket": s, "error": why} for s, why in blob.failures.items()],
    }
