"""BN254 BLS signatures as EigenLayer's contracts check them.

Secret keys are scalars in ``[1, r)``; the G1 public key is ``sk·G1`` and the G2 public key
``sk·G2``; a signature on a 32-byte message hash is ``sigma = sk·hashToG1(hash)`` in G1.
Signatures and G1 keys travel as 64 bytes (X ‖ Y), G2 keys as 128 bytes in EIP-197 order. The
operator id is keccak256 of the G1 key's two 32-byte words, as ``BN254.hashG1Point`` has it.

Everything that checks a signature costs pairings (tenths of a second in Python) and belongs off
the node's request path: the node only signs. :func:`batch_verify` lets a disperser check N
signatures on one message for two pairings and two short multi-scalar multiplications.

The two pairing equations of the middleware contracts are here so callers can predict what the
chain will accept:

* ``BLSApkRegistry.registerBLSPublicKey``: with gamma = keccak256(sigma, P, P', H) mod r,
  e(sigma + gamma·P, -G2) · e(H + gamma·G1, P') == 1 (:func:`check_registration_params`);
* ``BLSSignatureChecker.trySignatureAndApkVerification``: with
  gamma = keccak256(msgHash, apk, apkG2, sigma) mod r,
  e(sigma + gamma·apk, -G2) · e(hashToG1(msgHash) + gamma·G1, apkG2) == 1
  (:func:`check_aggregate_signature`).

Functions taking points accept either the wire bytes, which they decode and validate, or
:class:`G1Point`/:class:`G2Point` values, which they trust (obtain those from ``from_bytes``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eth_hash.auto import keccak

from operator_node.crypto.bn254 import (
    CURVE_ORDER,
    G1_GENERATOR,
    G2_GENERATOR,
    G1Point,
    G2Point,
    g1_add,
    g1_msm,
    g1_multiply,
    g1_sum,
    g2_msm,
    g2_multiply,
    g2_neg,
    g2_sum,
    hash_to_g1,
    pairing_check,
)
from operator_node.crypto.errors import (
    InvalidBatchError,
    InvalidMessageError,
    InvalidPointError,
    InvalidScalarError,
    RegistrationProofError,
)

G1Like = bytes | G1Point
G2Like = bytes | G2Point

NEG_G2_GENERATOR = g2_neg(G2_GENERATOR)
_BATCH_WEIGHT_BITS = 128  # a batch containing a bad signature passes with probability 2^-128


def _g1(value: G1Like) -> G1Point:
    return value if isinstance(value, G1Point) else G1Point.from_bytes(value)


def _g2(value: G2Like) -> G2Point:
    return value if isinstance(value, G2Point) else G2Point.from_bytes(value)


def _check_hash(msg_hash: bytes) -> None:
    if len(msg_hash) != 32:
        raise InvalidMessageError(f"a message hash is 32 bytes, got {len(msg_hash)}")


def operator_id_of(pubkey_g1: G1Like) -> bytes:
    """keccak256(X ‖ Y) of a G1 public key: the operator id ``BLSApkRegistry`` assigns."""
    return keccak(_g1(pubkey_g1).to_bytes())


class BlsKeyPair:
    """A BN254 BLS secret key and its public keys; ``repr`` shows the operator id, not the key."""

    __slots__ = ("_g1", "_g2", "_secret")

    def __init__(self, secret: int) -> None:
        """Wrap ``secret``; raises :class:`InvalidScalarError` unless it is an int in [1, r)."""
        if isinstance(secret, bool) or not isinstance(secret, int) or not 0 < secret < CURVE_ORDER:
            raise InvalidScalarError("a BLS secret key must be an integer in [1, r)")
        self._secret = secret
        self._g1 = g1_multiply(G1_GENERATOR, secret)
        self._g2: G2Point | None = None

    @classmethod
    def from_secret(cls, secret: int | bytes) -> BlsKeyPair:
        """From an integer or its 32-byte big-endian encoding (the keystore's plaintext)."""
        if isinstance(secret, bytes):
            if len(secret) != 32:
                raise InvalidScalarError(f"a BLS secret key is 32 bytes, got {len(secret)}")
            secret = int.from_bytes(secret, "big")
        return cls(secret)

    @classmethod
    def generate(cls) -> BlsKeyPair:
        """A fresh key drawn uniformly from [1, r) with the ``secrets`` module."""
        return cls(secrets.randbelow(CURVE_ORDER - 1) + 1)

    def secret_bytes(self) -> bytes:
        """The secret as 32 big-endian bytes, for writing a keystore. Never log or print it."""
        return self._secret.to_bytes(32, "big")

    @property
    def pubkey_g1_point(self) -> G1Point:
        """The G1 public key ``sk·G1``."""
        return self._g1

    @property
    def pubkey_g1(self) -> bytes:
        """The G1 public key as 64 bytes X ‖ Y."""
        return self._g1.to_bytes()

    @property
    def pubkey_g2_point(self) -> G2Point:
        """The G2 public key ``sk·G2`` (computed on first use, a few milliseconds)."""
        if self._g2 is None:
            self._g2 = g2_multiply(G2_GENERATOR, self._secret)
        return self._g2

    @property
    def pubkey_g2(self) -> bytes:
        """The G2 public key as 128 bytes in EIP-197 order (x_im, x_re, y_im, y_re)."""
        return self.pubkey_g2_point.to_bytes()

    @property
    def operator_id(self) -> bytes:
        """keccak256 of the G1 public key's 64 bytes."""
        return keccak(self._g1.to_bytes())

    def sign(self, msg_hash: bytes) -> bytes:
        """``sk·hashToG1(msg_hash)`` as 64 bytes; raises :class:`InvalidMessageError` if not 32."""
        _check_hash(msg_hash)
        return g1_multiply(hash_to_g1(msg_hash), self._secret).to_bytes()

    def sign_g1_point(self, point: G1Point) -> G1Point:
        """``sk·point`` with no hashing: signs a message point such as the contract's
        ``pubkeyRegistrationMessageHash``. Raises :class:`InvalidPointError` for infinity."""
        if point.is_infinity:
            raise InvalidPointError("refusing to sign the point at infinity")
        return g1_multiply(point, self._secret)

    def registration_params(self, message_point: G1Point) -> PubkeyRegistrationParams:
        """``PubkeyRegistrationParams`` for ``message_point`` (the registry coordinator's
        ``pubkeyRegistrationMessageHash(operator)``), checked with BLSApkRegistry's equation.

        Raises :class:`RegistrationProofError` if the local check fails. Costs one pairing check.
        """
        params = PubkeyRegistrationParams(
            pubkey_registration_signature=self.sign_g1_point(message_point),
            pubkey_g1=self._g1,
            pubkey_g2=self.pubkey_g2_point,
        )
        if not check_registration_params(params, message_point):
            raise RegistrationProofError("registration parameters fail the BLSApkRegistry check")
        return params

    def __repr__(self) -> str:
        return f"BlsKeyPair(operator_id=0x{self.operator_id.hex()})"


@dataclass(frozen=True, slots=True)
class PubkeyRegistrationParams:
    """``IBLSApkRegistry.PubkeyRegistrationParams``: sigma = sk·H and both public keys."""

    pubkey_registration_signature: G1Point
    pubkey_g1: G1Point
    pubkey_g2: G2Point

    def to_abi(self) -> tuple[tuple[int, int], tuple[int, int], tuple[tuple[int, int], ...]]:
        """The struct as a tuple ready for ABI encoding (G2 imaginary parts first)."""
        return (
            self.pubkey_registration_signature.to_abi(),
            self.pubkey_g1.to_abi(),
            self.pubkey_g2.to_abi(),
        )


def registration_gamma(params: PubkeyRegistrationParams, message_point: G1Point) -> int:
    """gamma = keccak256(sigma.X, sigma.Y, P.X, P.Y, P'.X[0], P'.X[1], P'.Y[0], P'.Y[1], H.X, H.Y)
    mod r, as ``BLSApkRegistry.registerBLSPublicKey`` computes it."""
    packed = (
        params.pubkey_registration_signature.to_bytes()
        + params.pubkey_g1.to_bytes()
        + params.pubkey_g2.to_bytes()
        + message_point.to_bytes()
    )
    return int.from_bytes(keccak(packed), "big") % CURVE_ORDER


def check_registration_params(params: PubkeyRegistrationParams, message_point: G1Point) -> bool:
    """True iff BLSApkRegistry would accept ``params`` for ``message_point``:
    e(sigma + gamma·P, -G2) · e(H + gamma·G1, P') == 1. Costs one two-pairing check."""
    if params.pubkey_g1.is_infinity:
        return False  # the registry refuses the zero key before it checks anything else
    gamma = registration_gamma(params, message_point)
    lhs = g1_add(params.pubkey_registration_signature, g1_multiply(params.pubkey_g1, gamma))
    rhs = g1_add(message_point, g1_multiply(G1_GENERATOR, gamma))
    return pairing_check([(lhs, NEG_G2_GENERATOR), (rhs, params.pubkey_g2)])


def aggregate_signature_gamma(
    msg_hash: bytes, apk_g1: G1Point, apk_g2: G2Point, sigma: G1Point
) -> int:
    """gamma = keccak256(msgHash, apk.X, apk.Y, apkG2.X[0], apkG2.X[1], apkG2.Y[0], apkG2.Y[1],
    sigma.X, sigma.Y) mod r, as ``BLSSignatureChecker.trySignatureAndApkVerification`` has it."""
    _check_hash(msg_hash)
    packed = msg_hash + apk_g1.to_bytes() + apk_g2.to_bytes() + sigma.to_bytes()
    return int.from_bytes(keccak(packed), "big") % CURVE_ORDER


def check_aggregate_signature(
    msg_hash: bytes, apk_g1: G1Point, apk_g2: G2Point, sigma: G1Point
) -> bool:
    """True iff ``trySignatureAndApkVerification(msgHash, apk, apkG2, sigma)`` reports a valid
    signature: e(sigma + gamma·apk, -G2) · e(hashToG1(msgHash) + gamma·G1, apkG2) == 1.

    ``apk_g1`` is the signers' aggregate G1 key (quorum apks minus non-signers), ``apk_g2`` their
    aggregate G2 key and ``sigma`` the aggregate signature. Costs one two-pairing check.
    """
    gamma = aggregate_signature_gamma(msg_hash, apk_g1, apk_g2, sigma)
    lhs = g1_add(sigma, g1_multiply(apk_g1, gamma))
    rhs = g1_add(hash_to_g1(msg_hash), g1_multiply(G1_GENERATOR, gamma))
    return pairing_check([(lhs, NEG_G2_GENERATOR), (rhs, apk_g2)])


def verify(signature: G1Like, msg_hash: bytes, pubkey_g2: G2Like) -> bool:
    """True iff ``signature`` is ``sk·hashToG1(msg_hash)`` for the key ``pubkey_g2``.

    Raises :class:`InvalidPointError` for bytes that are not a point (a well-formed wrong signature
    just returns False) and :class:`InvalidMessageError` for a hash that is not 32 bytes.
    """
    _check_hash(msg_hash)
    sig, pk = _g1(signature), _g2(pubkey_g2)
    return pairing_check([(sig, NEG_G2_GENERATOR), (hash_to_g1(msg_hash), pk)])


def batch_verify(
    msg_hash: bytes, signatures: Sequence[G1Like], pubkeys_g2: Sequence[G2Like]
) -> bool:
    """True iff every ``signatures[i]`` is valid for ``pubkeys_g2[i]`` on the one ``msg_hash``.

    Random 128-bit weights w_i turn N checks into one,
    e(sum(w_i*sigma_i), -G2) · e(H, sum(w_i*PK_i)) == 1, so the cost is two pairings plus two
    short multi-scalar multiplications. A False answer does not say which signature is bad;
    :func:`verify` them one by one to find out.
    """
    _check_hash(msg_hash)
    if len(signatures) != len(pubkeys_g2):
        raise InvalidBatchError("batch_verify needs one public key per signature")
    if not signatures:
        raise InvalidBatchError("batch_verify needs at least one signature")
    sigs = [_g1(s) for s in signatures]
    keys = [_g2(k) for k in pubkeys_g2]
    weights = [secrets.randbits(_BATCH_WEIGHT_BITS) | 1 for _ in sigs]
    weighted_sig = g1_msm(sigs, weights)
    weighted_key = g2_msm(keys, weights)
    return pairing_check([(weighted_sig, NEG_G2_GENERATOR), (hash_to_g1(msg_hash), weighted_key)])


def aggregate_signatures(signatures: Iterable[G1Like]) -> bytes:
    """The sum of the signatures as 64 bytes; raises :class:`InvalidBatchError` if empty."""
    points = [_g1(s) for s in signatures]
    if not points:
        raise InvalidBatchError("nothing to aggregate")
    return g1_sum(points).to_bytes()


def aggregate_pubkeys_g1(pubkeys: Iterable[G1Like]) -> bytes:
    """The sum of G1 public keys as 64 bytes; raises :class:`InvalidBatchError` if empty."""
    points = [_g1(k) for k in pubkeys]
    if not points:
        raise InvalidBatchError("nothing to aggregate")
    return g1_sum(points).to_bytes()


def aggregate_pubkeys_g2(pubkeys: Iterable[G2Like]) -> bytes:
    """The sum of G2 public keys as 128 bytes (EIP-197).

    Raises :class:`InvalidBatchError` for an empty input."""
    points = [_g2(k) for k in pubkeys]
    if not points:
        raise InvalidBatchError("nothing to aggregate")
    return g2_sum(points).to_bytes()
