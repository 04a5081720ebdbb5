"""StoreChunks over real HTTP to a devnet's nodes, signed by its disperser."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, NamedTuple

from operator_node.client.batch import PreparedBatch
from operator_node.devnet.network import Devnet, DevnetOperator
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.wire import encode_store_chunks


class Reply(NamedTuple):
    """A node's answer: status, JSON body, and its ``Retry-After`` header (None if absent)."""

    status: int
    body: dict[str, Any]
    retry_after: str | None = None


def post_store_chunks(devnet: Devnet, operator: DevnetOperator, body: bytes) -> Reply:
    """POST a StoreChunks body to ``operator``'s node, signed by the devnet's disperser."""
    headers = compute_auth_headers(
        devnet.disperser, operator.keypair.operator_id, int(time.time()), compute_request_hash(body)
    )
    request = urllib.request.Request(
        f"{operator.dispersal_url}/v1/store-chunks", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, json.loads(exc.read()), exc.headers.get("Retry-After"))


def send_to_all(devnet: Devnet, batch: PreparedBatch) -> dict[str, Reply]:
    """POST every running node its own request of ``batch``: replies by node name."""
    out = {}
    for op in devnet.operators:
        body = b"".join(encode_store_chunks(batch.requests[op.keypair.operator_id]))
        out[op.name] = post_store_chunks(devnet, op, body)
    return out
