"""BN254 BLS costs: ours against plain py_ecc, measured in one process; MCL quoted, not measured.

Operations: hash_to_g1 (the on-chain try-and-increment), sign (hashToG1 + G1 multiplication), the
G1 multiplication alone, verify (one two-pairing check), batch verify of 8 and 64 signatures on
one message (two pairings plus two multi-scalar multiplications with 128-bit random weights), and
G2 public key derivation. Figures are medians in milliseconds.

"ours" runs hash_to_g1 and G1 multiplication on the backend ``g1_backend()`` picks (C when the
extension is built); the column "ours, Python" repeats those and sign in the same run with the
backend forced to the pure-Python code through OPERATOR_NODE_BN254_BACKEND.

Peers: "py_ecc" is the obvious code on py_ecc's ``optimized_bn128`` (``multiply``, ``normalize``,
two ``pairing`` calls); its N-signature figure is N times its measured verify (marked "~"), since
checking each signature is what one does without a batch check. "MCL" is the C library the
EigenLayer Go/Python SDKs use, as quoted in the project's issue (sign about 0.08 ms, verify about
0.43 ms): those two numbers are reference values, not measured here. The last line printed is a
JSON object of the figures.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from eth_hash.auto import keccak
from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.fields import optimized_bn128_FQ12 as FQ12
from py_ecc.optimized_bn128 import optimized_curve as curve
from py_ecc.optimized_bn128 import optimized_pairing

from operator_node.crypto.bls import BlsKeyPair, batch_verify, verify
from operator_node.crypto.bn254 import (
    BACKEND_ENV,
    CURVE_ORDER,
    G2_GENERATOR,
    G2Point,
    g1_backend,
    g1_multiply,
    g2_multiply,
    hash_to_g1,
)

MCL_QUOTED_MS = {"sign": 0.08, "verify": 0.43}
BATCH_SIZES = (8, 64)


def median_ms(run: Callable[[int], object], runs: int) -> float:
    """Median wall time of run(i) in ms over ``runs`` calls, after one warm-up call."""
    run(0)
    times = []
    gc.disable()
    try:
        for i in range(runs):
            start = time.perf_counter()
            run(i)
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times) * 1000


def messages(count: int) -> list[bytes]:
    """Distinct 32-byte message hashes."""
    return [keccak(f"bench message {i}".encode()) for i in range(count)]


def py_ecc_sign(secret: int, message: bytes) -> tuple[int, int]:
    """Sign with py_ecc's multiplication (hashToG1 is the same loop in any implementation)."""
    h = hash_to_g1(message)
    x, y = curve.normalize(curve.multiply((FQ(h.x), FQ(h.y), FQ.one()), secret))
    return (int(x), int(y))


def py_ecc_verify(signature: tuple[int, int], message: bytes, pubkey_g2: Any) -> bool:
    """e(sigma, G2) == e(H, PK) with two full py_ecc pairings."""
    h = hash_to_g1(message)
    sig = (FQ(signature[0]), FQ(signature[1]), FQ.one())
    lhs = optimized_pairing.pairing(curve.G2, sig)
    rhs = optimized_pairing.pairing(pubkey_g2, (FQ(h.x), FQ(h.y), FQ.one()))
    return bool(lhs == rhs and lhs != FQ12.one())


def batch_run(message: bytes, sigs: list[bytes], keys: list[G2Point]) -> Callable[[int], bool]:
    """A closure checking one batch, for :func:`median_ms`."""
    return lambda i: batch_verify(message, sigs, keys)


def measure_ours(keypair: BlsKeyPair, signers: list[BlsKeyPair]) -> dict[str, float]:
    """Every operation with our implementation."""
    secret = int.from_bytes(keypair.secret_bytes(), "big")
    msgs = messages(64)
    points = [hash_to_g1(m) for m in msgs]
    message = msgs[0]
    signature, pubkey_g2 = keypair.sign(message), G2Point.from_bytes(keypair.pubkey_g2)
    figures = {
        "hash_to_g1": median_ms(lambda i: hash_to_g1(msgs[i % 64]), 200),
        "sign": median_ms(lambda i: keypair.sign(msgs[i % 64]), 100),
        "g1_multiply": median_ms(lambda i: g1_multiply(points[i % 64], secret - i), 100),
        "verify": median_ms(lambda i: verify(signature, message, pubkey_g2), 5),
        "g2_pubkey": median_ms(lambda i: g2_multiply(G2_GENERATOR, secret + i), 20),
    }
    for size in BATCH_SIZES:
        sigs = [s.sign(message) for s in signers[:size]]
        keys = [G2Point.from_bytes(s.pubkey_g2) for s in signers[:size]]
        assert batch_verify(message, sigs, keys)
        figures[f"batch_verify_{size}"] = median_ms(batch_run(message, sigs, keys), 5)
    return figures


def measure_python_backend(keypair: BlsKeyPair) -> dict[str, float]:
    """hash_to_g1, sign and G1 multiplication with the backend forced to the pure-Python code."""
    secret = int.from_bytes(keypair.secret_bytes(), "big")
    msgs = messages(64)
    points = [hash_to_g1(m) for m in msgs]
    saved = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = "python"
    try:
        return {
            "hash_to_g1": median_ms(lambda i: hash_to_g1(msgs[i % 64]), 100),
            "sign": median_ms(lambda i: keypair.sign(msgs[i % 64]), 50),
            "g1_multiply": median_ms(lambda i: g1_multiply(points[i % 64], secret - i), 50),
        }
    finally:
        if saved is None:
            del os.environ[BACKEND_ENV]
        else:
            os.environ[BACKEND_ENV] = saved


def measure_py_ecc(secret: int) -> dict[str, float]:
    """The same operations written directly on py_ecc."""
    msgs = messages(64)
    signature = py_ecc_sign(secret, msgs[0])
    pubkey_g2 = curve.multiply(curve.G2, secret)
    assert py_ecc_verify(signature, msgs[0], pubkey_g2)
    figures = {
        "sign": median_ms(lambda i: py_ecc_sign(secret, msgs[i % 64]), 20),
        "verify": median_ms(lambda i: py_ecc_verify(signature, msgs[0], pubkey_g2), 3),
        "g2_pubkey": median_ms(lambda i: curve.normalize(curve.multiply(curve.G2, secret + i)), 5),
    }
    for size in BATCH_SIZES:
        figures[f"batch_verify_{size}"] = size * figures["verify"]
    return figures


def main() -> None:
    """Measure, print the table and the JSON line."""
    secret = int.from_bytes(keccak(b"bench secret"), "big") % CURVE_ORDER
    keypair = BlsKeyPair(secret)
    signers = [BlsKeyPair(int.from_bytes(keccak(f"signer {i}".encode()), "big") % CURVE_ORDER)
               for i in range(max(BATCH_SIZES))]  # fmt: skip
    backend = g1_backend()
    ours = measure_ours(keypair, signers)
    python = measure_python_backend(keypair)
    peer = measure_py_ecc(secret)
    rows = ["hash_to_g1", "sign", "g1_multiply", "verify",
            *(f"batch_verify_{n}" for n in BATCH_SIZES), "g2_pubkey"]  # fmt: skip
    print(f"G1 multiplication backend: {backend}")
    print(f"{'operation (median ms)':<24}{'ours':>12}{'ours, Python':>15}{'py_ecc':>14}"
          f"{'MCL (quoted)':>16}")  # fmt: skip
    for name in rows:
        mark = "~" if name.startswith("batch") else ""
        theirs = f"{mark}{peer[name]:.2f}" if name in peer else "-"
        forced = f"{python[name]:.3f}" if name in python else "-"
        quoted = f"{MCL_QUOTED_MS[name]:.2f}" if name in MCL_QUOTED_MS else "-"
        print(f"{name:<24}{ours[name]:>12.3f}{forced:>15}{theirs:>14}{quoted:>16}")
    print("py_ecc batch figures are N x its verify; MCL figures are quoted, not measured.")
    speedup = python["sign"] / ours["sign"]
    print(json.dumps({"bench": "bls", "unit": "ms", "g1_backend": backend, "ours": ours,
                      "ours_python_backend": python, "sign_python_over_ours": round(speedup, 2),
                      "py_ecc": peer, "mcl_quoted_not_measured": MCL_QUOTED_MS}))  # fmt: skip


if __name__ == "__main__":
    main()
