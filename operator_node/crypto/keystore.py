"""Encrypted key files compatible with eigenlayer-cli: the ECDSA v3 keystore and eigensdk's BLS one.

Both use the Ethereum "v3" encryption, read here from go-ethereum's ``accounts/keystore``
(``EncryptDataV3``/``DecryptDataV3``, ``EncryptKey``) and eigensdk-go's
``crypto/bls/attestation.go`` (``SaveToFile``/``ReadPrivateKeyFromFile``) and
``crypto/ecdsa/utils.go`` (``WriteKey``):

* key = scrypt(password as UTF-8, salt, n, r=8, p, dklen=32), salt 32 random bytes; standard
  parameters n = 2^18, p = 1 (``StandardScryptN/P``, about 1 s and 256 MiB);
* ciphertext = AES-128-CTR(key[:16], iv = 16 random bytes, plaintext);
* mac = keccak256(key[16:32] ‖ ciphertext); a wrong MAC means a wrong password or altered file;
* ``crypto`` = {"cipher", "ciphertext", "cipherparams": {"iv"}, "kdf", "kdfparams": {"dklen",
  "n", "p", "r", "salt"}, "mac"}, every byte string lower-case hex without ``0x``, written in that
  key order (Go's ``encoding/json`` writes struct fields in order and map keys sorted), compact.

ECDSA (``<name>.ecdsa.key.json``): ``{"address", "crypto", "id", "version": 3}``, the plaintext
being the 32-byte big-endian secp256k1 secret, the address lower-case hex without ``0x``.

BLS (``<name>.bls.key.json``): ``{"pubKey": "E([X,Y])", "crypto": {...}}`` (eigensdk-python
writes ``pubKey`` in mcl's form ``"1 X Y"``; both are read, and we write gnark's). Confirmed in the
sources: the plaintext is the 32-byte big-endian secret (``fr.Element.Bytes()``, not its decimal
text), and ``pubKey`` is gnark-crypto's ``G1Affine.String()``: ``"E([" + X + "," + Y + "])"`` with
``fp.Element.Text(10)`` decimals, which print ``-k`` when the value is p - k for 0 < k <= 65535
("O" would be infinity). eigensdk does not check ``pubKey`` against the secret when it reads a
file; we do. eigensdk writes BLS files mode 0644; we write 0600 and refuse group- or
other-accessible files unless told otherwise. PBKDF2 (``"kdf": "pbkdf2"``, hmac-sha256) is
accepted on reading, as go-ethereum does; we always write scrypt.

Files are written atomically and never replace an existing file: the JSON goes to a temporary
file in the same directory, is fsynced, and is then hard-linked to its final name, which fails if
the name exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shlex
import stat
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from coincurve import PrivateKey
from Crypto.Cipher import AES
from Crypto.Protocol.KDF import scrypt
from eth_hash.auto import keccak

from operator_node.addresses import to_checksum_address
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.bn254 import CURVE_ORDER, FIELD_MODULUS, G1Point
from operator_node.crypto.errors import (
    InsecurePermissionsError,
    InvalidPointError,
    KeyMismatchError,
    KeystoreError,
    KeystoreExistsError,
    KeystoreFormatError,
    WrongPasswordError,
)
from operator_node.durable import fsync_directory

KeyType = Literal["bls", "ecdsa"]

STANDARD_SCRYPT_N = 1 << 18
STANDARD_SCRYPT_P = 1
SCRYPT_R = 8
_DKLEN = 32
# Refuse work factors far above the standard ones: a hostile file must not pin GiBs of memory.
_MAX_SCRYPT_MEMORY = 1 << 30
_MAX_PBKDF2_ROUNDS = 10_000_000
_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_PUBKEY_RE = re.compile(r"E\(\[(-?[0-9]+),(-?[0-9]+)\]\)")
# mcl's text form, as eigensdk-python writes pubKey: "1 X Y" (1: an affine, non-zero point).
_MCL_PUBKEY_RE = re.compile(r"1 ([0-9]+|0x[0-9a-fA-F]+) ([0-9]+|0x[0-9a-fA-F]+)")
SUFFIXES: Mapping[KeyType, str] = {"bls": ".bls.key.json", "ecdsa": ".ecdsa.key.json"}


@dataclass(frozen=True)
class EcdsaKey:
    """A secp256k1 secret key and its checksummed address; ``repr`` hides the secret."""

    address: str
    _secret: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: bytes) -> EcdsaKey:
        """From the 32-byte big-endian secret; raises :class:`KeystoreFormatError` if invalid."""
        if len(secret) != 32 or not 0 < int.from_bytes(secret, "big") < _SECP256K1_ORDER:
            raise KeystoreFormatError("an ECDSA secret key is 32 bytes in [1, n) of secp256k1")
        # The address is the last 20 bytes of keccak256 of the uncompressed public key (x ‖ y).
        # coincurve rather than eth_account: the latter costs half a second to import.
        public = PrivateKey(bytes(secret)).public_key.format(compressed=False)[1:]
        return cls(address=to_checksum_address(keccak(public)[-20:]), _secret=bytes(secret))

    @classmethod
    def generate(cls) -> EcdsaKey:
        """A fresh random key."""
        return cls.from_secret((secrets.randbelow(_SECP256K1_ORDER - 1) + 1).to_bytes(32, "big"))

    def secret_bytes(self) -> bytes:
        """The 32-byte secret, for signing or writing a keystore. Never log or print it."""
        return self._secret


# --- the v3 "crypto" section ---------------------------------------------------------------


def encrypt_v3(
    plaintext: bytes,
    password: str,
    *,
    scrypt_n: int = STANDARD_SCRYPT_N,
    scrypt_p: int = STANDARD_SCRYPT_P,
    scrypt_r: int = SCRYPT_R,
) -> dict[str, Any]:
    """The v3 ``crypto`` object encrypting ``plaintext`` under ``password`` (scrypt, AES-CTR)."""
    salt, iv = secrets.token_bytes(32), secrets.token_bytes(16)
    key = _scrypt(password, salt, scrypt_n, scrypt_r, scrypt_p)
    ciphertext = AES.new(key[:16], AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(plaintext)
    return {
        "cipher": "aes-128-ctr",
        "ciphertext": ciphertext.hex(),
        "cipherparams": {"iv": iv.hex()},
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": _DKLEN,
            "n": scrypt_n,
            "p": scrypt_p,
            "r": scrypt_r,
            "salt": salt.hex(),
        },
        "mac": keccak(key[16:32] + ciphertext).hex(),
    }


def decrypt_v3(crypto: Mapping[str, Any], password: str, *, path: str = "") -> bytes:
    """The plaintext of a v3 ``crypto`` object.

    Raises :class:`WrongPasswordError` when the MAC does not match (wrong password or altered
    ciphertext/MAC) and :class:`KeystoreFormatError` for anything malformed or unsupported.
    """
    where = f"{path}: " if path else ""
    try:
        if crypto["cipher"] != "aes-128-ctr":
            raise KeystoreFormatError(f"{where}unsupported cipher {crypto['cipher']!r}", path=path)
        ciphertext = bytes.fromhex(crypto["ciphertext"])
        iv = bytes.fromhex(crypto["cipherparams"]["iv"])
        mac = bytes.fromhex(crypto["mac"])
        key = _derive_key(crypto["kdf"], crypto["kdfparams"], password, where, path)
    except (KeyError, TypeError, ValueError) as exc:
        # Only the exception's type: its text could quote the input.
        raise KeystoreFormatError(
            f"{where}malformed keystore crypto section ({type(exc).__name__})", path=path
        ) from None
    if len(iv) != 16:
        raise KeystoreFormatError(f"{where}the AES-CTR iv must be 16 bytes", path=path)
    if not hmac.compare_digest(keccak(key[16:32] + ciphertext), mac):
        raise WrongPasswordError(
            f"{where}could not decrypt the key: wrong password, or the file was altered "
            "(MAC mismatch)",
            path=path,
        )
    return AES.new(key[:16], AES.MODE_CTR, nonce=b"", initial_value=iv).decrypt(ciphertext)


def _derive_key(kdf: str, params: Mapping[str, Any], password: str, where: str, path: str) -> bytes:
    if int(params["dklen"]) != _DKLEN:
        raise KeystoreFormatError(f"{where}kdfparams.dklen must be 32", path=path)
    salt = bytes.fromhex(params["salt"])
    if kdf == "scrypt":
        n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * n * r * p > _MAX_SCRYPT_MEMORY:
            raise KeystoreFormatError(f"{where}unacceptable scrypt parameters", path=path)
        return _scrypt(password, salt, n, r, p)
    if kdf == "pbkdf2":
        rounds = int(params["c"])
        if params["prf"] != "hmac-sha256" or not 0 < rounds <= _MAX_PBKDF2_ROUNDS:
            raise KeystoreFormatError(f"{where}unsupported pbkdf2 parameters", path=path)
        return hashlib.pbkdf2_hmac("sha256", _password_bytes(password), salt, rounds, _DKLEN)
    raise KeystoreFormatError(f"{where}unsupported kdf {kdf!r}", path=path)


def _password_bytes(password: str) -> bytes:
    # UTF-8, as Go's []byte(password); surrogateescape gives back the exact bytes of a password
    # that came from an environment variable or file that was not valid UTF-8.
    return password.encode("utf-8", "surrogateescape")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    key = scrypt(_password_bytes(password), salt, _DKLEN, N=n, r=r, p=p)  # type: ignore[arg-type]
    assert isinstance(key, bytes)  # one key asked for, so not a tuple
    return key


# --- BLS keystore --------------------------------------------------------------------------


def format_bls_pubkey(point: G1Point) -> str:
    """gnark-crypto's ``G1Affine.String()``: ``E([X,Y])`` in decimal, or ``O`` for infinity."""
    if point.is_infinity:
        return "O"
    return f"E([{_gnark_decimal(point.x)},{_gnark_decimal(point.y)}])"


def _gnark_decimal(value: int) -> str:
    # fp.Element.Text(10) prints p - k as "-k" when 0 < k <= 65535.
    negated = (FIELD_MODULUS - value) % FIELD_MODULUS
    return f"-{negated}" if 0 < negated <= 0xFFFF else str(value)


def parse_bls_pubkey(text: str) -> G1Point:
    """The G1 point of a ``pubKey`` string in gnark's form (``E([X,Y])``, eigenlayer-cli and
    eigensdk-go) or mcl's (``1 X Y``, eigensdk-python); raises :class:`InvalidPointError` if it
    is neither or not a valid key."""
    mcl = _MCL_PUBKEY_RE.fullmatch(text.strip())
    if mcl is not None:
        x, y = (int(token, 0) for token in mcl.groups())
        if x >= FIELD_MODULUS or y >= FIELD_MODULUS:
            raise InvalidPointError(f"pubKey coordinates are not field elements: {text[:200]!r}")
        return G1Point.from_coordinates(x, y)
    match = _PUBKEY_RE.fullmatch(text.strip())
    if match is None:
        raise InvalidPointError(f"pubKey is not of the form E([X,Y]) or 1 X Y: {text[:200]!r}")
    coords = []
    for digits in match.groups():
        value = int(digits)
        if value < 0:
            value += FIELD_MODULUS  # gnark's short form of p - k
        coords.append(value)
    return G1Point.from_coordinates(coords[0], coords[1])


def encode_bls_keystore(
    keypair: BlsKeyPair,
    password: str,
    *,
    scrypt_n: int = STANDARD_SCRYPT_N,
    scrypt_p: int = STANDARD_SCRYPT_P,
) -> bytes:
    """The BLS keystore JSON (compact, as eigensdk-go writes it) for ``keypair``."""
    document = {
        "pubKey": format_bls_pubkey(keypair.pubkey_g1_point),
        "crypto": encrypt_v3(
            keypair.secret_bytes(), password, scrypt_n=scrypt_n, scrypt_p=scrypt_p
        ),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode_bls_keystore(data: bytes, password: str, *, path: str = "") -> BlsKeyPair:
    """The key pair in a BLS keystore, once the MAC is checked and the secret matches ``pubKey``.

    Raises :class:`KeystoreFormatError`, :class:`WrongPasswordError` or :class:`KeyMismatchError`.
    """
    document = _load_json(data, path)
    claimed = _bls_pubkey_field(document, path)
    plaintext = decrypt_v3(_crypto_field(document, path), password, path=path)
    # eigensdk reads the secret with fr.Element.SetBytes, which reduces modulo r.
    secret = int.from_bytes(plaintext, "big") % CURVE_ORDER
    if len(plaintext) != 32 or secret == 0:
        raise KeystoreFormatError(f"{path or 'keystore'}: the secret is not a BLS key", path=path)
    keypair = BlsKeyPair(secret)
    if keypair.pubkey_g1_point != claimed:
        raise KeyMismatchError(
            f"{path or 'keystore'}: the decrypted secret does not match the file's pubKey",
            path=path,
        )
    return keypair


def bls_keystore_pubkey(data: bytes, *, path: str = "") -> G1Point:
    """The public key a BLS keystore claims (no password needed, nothing decrypted)."""
    return _bls_pubkey_field(_load_json(data, path), path)


def _bls_pubkey_field(document: Mapping[str, Any], path: str) -> G1Point:
    text = document.get("pubKey")
    if not isinstance(text, str):
        raise KeystoreFormatError(f"{path or 'keystore'}: no pubKey string", path=path)
    try:
        return parse_bls_pubkey(text)
    except InvalidPointError as exc:
        raise KeystoreFormatError(f"{path or 'keystore'}: bad pubKey: {exc}", path=path) from None


# --- ECDSA keystore ------------------------------------------------------------------------


def encode_ecdsa_keystore(
    key: EcdsaKey,
    password: str,
    *,
    scrypt_n: int = STANDARD_SCRYPT_N,
    scrypt_p: int = STANDARD_SCRYPT_P,
) -> bytes:
    """The v3 keystore JSON (compact, as go-ethereum writes it) for ``key``."""
    document = {
        "address": key.address[2:].lower(),
        "crypto": encrypt_v3(key.secret_bytes(), password, scrypt_n=scrypt_n, scrypt_p=scrypt_p),
        "id": str(uuid.uuid4()),
        "version": 3,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode_ecdsa_keystore(data: bytes, password: str, *, path: str = "") -> EcdsaKey:
    """The key in a v3 keystore, after checking the MAC and the ``address`` field if present."""
    document = _load_json(data, path)
    if document.get("version") != 3:
        raise KeystoreFormatError(f"{path or 'keystore'}: not a version 3 keystore", path=path)
    key = EcdsaKey.from_secret(decrypt_v3(_crypto_field(document, path), password, path=path))
    claimed = document.get("address")
    if isinstance(claimed, str) and claimed.lower().removeprefix("0x") != key.address[2:].lower():
        raise KeyMismatchError(
            f"{path or 'keystore'}: the decrypted key does not match the file's address", path=path
        )
    return key


def ecdsa_keystore_address(data: bytes, *, path: str = "") -> str:
    """The checksummed address a v3 keystore claims (no password needed)."""
    claimed = _load_json(data, path).get("address")
    if not isinstance(claimed, str) or not re.fullmatch(r"(0x)?[0-9a-fA-F]{40}", claimed):
        raise KeystoreFormatError(f"{path or 'keystore'}: no valid address field", path=path)
    return to_checksum_address(bytes.fromhex(claimed.removeprefix("0x")))


def _load_json(data: bytes, path: str) -> Mapping[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeystoreFormatError(f"{path or 'keystore'}: not valid JSON", path=path) from None
    if not isinstance(document, dict):
        raise KeystoreFormatError(f"{path or 'keystore'}: not a JSON object", path=path)
    return document


def _crypto_field(document: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    crypto = document.get("crypto", document.get("Crypto"))
    if not isinstance(crypto, dict):
        raise KeystoreFormatError(f"{path or 'keystore'}: no crypto section", path=path)
    return crypto


# --- files ---------------------------------------------------------------------------------


def keystore_path(directory: Path, name: str, key_type: KeyType) -> Path:
    """``<directory>/<name>.bls.key.json`` or ``.ecdsa.key.json``, eigenlayer-cli's naming."""
    return directory / f"{name}{SUFFIXES[key_type]}"


def check_permissions(path: Path) -> None:
    """Raise :class:`InsecurePermissionsError` if ``path`` is accessible by group or others."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InsecurePermissionsError(
            f"{path} has mode {mode:04o}: a key or password file must not be accessible by group "
            f"or others; fix it with: chmod 600 {shlex.quote(str(path))}",
            path=str(path),
        )


def read_secret_file(path: Path, *, allow_insecure_permissions: bool = False) -> bytes:
    """The bytes of a key or password file after the permission check (unless allowed)."""
    try:
        if not allow_insecure_permissions:
            check_permissions(path)
        return path.read_bytes()
    except OSError as exc:
        raise KeystoreError(f"cannot read {path}: {exc.strerror}", path=str(path)) from None


def read_password_file(path: Path, *, allow_insecure_permissions: bool = False) -> str:
    """A password file's text without its one trailing newline (``\\n`` or ``\\r\\n``)."""
    raw = read_secret_file(path, allow_insecure_permissions=allow_insecure_permissions)
    # surrogateescape keeps bytes that are not UTF-8, so the KDF sees exactly the file's bytes.
    text = raw.decode("utf-8", "surrogateescape")
    return text.removesuffix("\n").removesuffix("\r")


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``, mode 0600, atomically; never replaces an existing file.

    Creates a missing parent directory with mode 0700. Raises :class:`KeystoreExistsError` if
    ``path`` exists and :class:`KeystoreError` for other I/O failures; leaves nothing behind.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            raise KeystoreExistsError(
                f"{path} already exists; refusing to overwrite it", path=str(path)
            )
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, data)
            os.link(temporary, path)  # fails if path appeared meanwhile: no overwrite race
            fsync_directory(path.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    except FileExistsError:
        raise KeystoreExistsError(
            f"{path} already exists; refusing to overwrite it", path=str(path)
        ) from None
    except OSError as exc:
        raise KeystoreError(f"cannot write {path}: {exc.strerror}", path=str(path)) from None


def _write_all(fd: int, data: bytes) -> None:
    try:
        os.fchmod(fd, 0o600)  # whatever the umask did, the owner must be able to read it back
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def save_bls_keystore(
    path: Path,
    keypair: BlsKeyPair,
    password: str,
    *,
    scrypt_n: int = STANDARD_SCRYPT_N,
    scrypt_p: int = STANDARD_SCRYPT_P,
) -> None:
    """Encrypt ``keypair`` under ``password`` into a new file ``path`` (0600, never overwritten)."""
    write_new_file(
        path, encode_bls_keystore(keypair, password, scrypt_n=scrypt_n, scrypt_p=scrypt_p)
    )


def load_bls_keystore(
    path: Path, password: str, *, allow_insecure_permissions: bool = False
) -> BlsKeyPair:
    """Read, check and decrypt a BLS keystore file (see :func:`decode_bls_keystore`)."""
    data = read_secret_file(path, allow_insecure_permissions=allow_insecure_permissions)
    return decode_bls_keystore(data, password, path=str(path))


def save_ecdsa_keystore(
    path: Path,
    key: EcdsaKey,
    password: str,
    *,
    scrypt_n: int = STANDARD_SCRYPT_N,
    scrypt_p: int = STANDARD_SCRYPT_P,
) -> None:
    """Encrypt ``key`` under ``password`` into a new file ``path`` (0600, never overwritten)."""
    write_new_file(path, encode_ecdsa_keystore(key, password, scrypt_n=scrypt_n, scrypt_p=scrypt_p))


def load_ecdsa_keystore(
    path: Path, password: str, *, allow_insecure_permissions: bool = False
) -> EcdsaKey:
    """Read, check and decrypt a v3 keystore file (see :func:`decode_ecdsa_keystore`)."""
    data = read_secret_file(path, allow_insecure_permissions=allow_insecure_permissions)
    return decode_ecdsa_keystore(data, password, path=str(path))
