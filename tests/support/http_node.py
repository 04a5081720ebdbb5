"""A keyed daemon with a static disperser, its StoreChunks requests, and raw-socket uploads.

Shared by the HTTP tests of dispersal: everything here talks to a real daemon over loopback.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from eth_account import Account

from operator_node.client.batch import EncodedBlob, PreparedBatch, prepare_batch
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import save_bls_keystore
from operator_node.protocol.auth import compute_auth_headers, compute_request_hash
from operator_node.protocol.headers import QuorumParams
from operator_node.protocol.wire import encode_store_chunks, store_chunks_head
from support.daemon import NodeProcess, node_config

DISPERSER = Account.from_key(b"\x11" * 32)
STRANGER = Account.from_key(b"\x22" * 32)
KEYPAIR = BlsKeyPair.from_secret(4242)
OTHERS = [BlsKeyPair.from_secret(4243 + i) for i in range(3)]
PASSWORD = "correct horse battery staple"


def write_key(tmp_path: Path, mode: int = 0o600) -> dict[str, Any]:
    """KEYPAIR's keystore and password file under ``tmp_path``: the ``[keys]`` section."""
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    keystore = keys / "op.bls.key.json"
    if not keystore.exists():
        save_bls_keystore(keystore, KEYPAIR, PASSWORD, scrypt_n=1024)
    password_file = keys / "bls.password"
    password_file.write_text(PASSWORD + "\n")
    os.chmod(password_file, mode)
    return {"bls_keystore": str(keystore), "bls_password_file": str(password_file)}


def keyed_config(tmp_path: Path, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A node config with KEYPAIR and DISPERSER as its one (static) disperser; no chain."""
    dispersal = {"allowed_dispersers": [DISPERSER.address], "disperser_source": "static"}
    dispersal.update(overrides.pop("dispersal", {}))
    return node_config(tmp_path, keys=write_key(tmp_path), dispersal=dispersal, **overrides)


def sample_batch() -> PreparedBatch:
    """Two small blobs over KEYPAIR and three other operators of equal stake."""
    rng = random.Random(7)
    blob = EncodedBlob.from_data(
        rng.randbytes(200),
        n=16,
        k=4,
        quorums=[QuorumParams(0, 25, 50)],
        account=b"\xaa" * 20,
    )
    pairs = [KEYPAIR, *OTHERS]
    states = {0: [(kp.operator_id, 25) for kp in pairs]}
    return prepare_batch([blob, blob], states, 10)


def sample_body() -> bytes:
    """KEYPAIR's StoreChunks body of :func:`sample_batch`."""
    return b"".join(encode_store_chunks(sample_batch().requests[KEYPAIR.operator_id]))


def post(node: NodeProcess, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST a StoreChunks body; (status, JSON reply) for any status."""
    request = urllib.request.Request(
        node.dispersal_url("/v1/store-chunks"), data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def signed(body: bytes, signer: Any = DISPERSER) -> dict[str, str]:
    """Fresh authentication headers for ``body`` (or its head) sent to KEYPAIR's node."""
    return compute_auth_headers(
        signer, KEYPAIR.operator_id, int(time.time()), compute_request_hash(body)
    )


def upload(
    node: NodeProcess,
    length: int,
    send: int = 0,
    *,
    head: bytes = b"",
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> socket.socket:
    """Open a StoreChunks request declaring ``length`` body bytes from the address ``source``
    (any of 127/8) and send ``head`` then zeros, ``send`` body bytes in all (at least the head).
    """
    conn = socket.create_connection(
        ("127.0.0.1", node.store_chunks_port), timeout=10, source_address=(source, 0)
    )
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    conn.sendall(
        b"POST /v1/store-chunks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/octet-stream\r\n"
        + f"{extra}Content-Length: {length}\r\n\r\n".encode()
    )
    try:  # the node may answer and close before the body is in
        conn.sendall(head)
        conn.sendall(bytes(max(0, send - len(head))))
    except OSError:
        pass
    return conn


def signed_upload(node: NodeProcess, length: int, send: int, **kwargs: Any) -> socket.socket:
    """:func:`upload` with a genuine, signed head (of :func:`sample_body`) and zeros after it."""
    head = bytes(store_chunks_head(sample_body()))
    return upload(node, length, max(send, len(head)), head=head, headers=signed(head), **kwargs)


def status_line(conn: socket.socket) -> bytes:
    """The HTTP status line of the reply on ``conn`` (empty if the node closed without one)."""
    reply = b""
    while b"\r\n\r\n" not in reply:
        try:
            piece = conn.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not piece:
            break
        reply += piece
    return reply.partition(b"\r\n")[0]


def reply_of(conn: socket.socket) -> tuple[bytes, bytes]:
    """The status line and the body of the (Content-Length) reply on ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return data.partition(b"\r\n")[0], b""
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return lines[0], body


def rss(pid: int, field: str = "VmRSS") -> int:
    """A /proc memory figure of the process (VmRSS now, VmHWM the peak), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc status")
