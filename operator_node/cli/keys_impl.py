"""What ``operator-node keys`` does (its arguments are in :mod:`operator_node.cli.keys`).

Passwords come from ``--password-file``, else the ``OPERATOR_NODE_KEY_PASSWORD`` environment
variable, else an interactive prompt (twice when a key is being encrypted). They are never taken
from the command line and never printed, and neither is a secret key.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

from operator_node.cli.keys import PASSWORD_ENV
from operator_node.cli.output import print_json, wants_json
from operator_node.crypto.bls import BlsKeyPair, operator_id_of
from operator_node.crypto.bn254 import CURVE_ORDER
from operator_node.crypto.errors import CryptoError, KeystoreError, PasswordError
from operator_node.crypto.keystore import (
    SUFFIXES,
    EcdsaKey,
    KeyType,
    bls_keystore_pubkey,
    ecdsa_keystore_address,
    keystore_path,
    load_bls_keystore,
    load_ecdsa_keystore,
    read_password_file,
    read_secret_file,
    save_bls_keystore,
    save_ecdsa_keystore,
)

# --- passwords -----------------------------------------------------------------------------


def _password(args: argparse.Namespace, *, confirm: bool) -> str:
    """The password from the file, the environment or the terminal, in that order."""
    if args.password_file is not None:
        password = read_password_file(
            args.password_file.expanduser(),
            allow_insecure_permissions=args.allow_insecure_permissions,
        )
    elif PASSWORD_ENV in os.environ:
        password = os.environ[PASSWORD_ENV]
    elif sys.stdin.isatty():
        password = _prompt(confirm=confirm)
    else:
        raise PasswordError(
            f"no password: give --password-file, set {PASSWORD_ENV}, or run on a terminal"
        )
    if confirm and not password:
        raise PasswordError("refusing to encrypt a key with an empty password")
    return password


def _prompt(*, confirm: bool) -> str:
    try:
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Repeat password: ") != password:
            raise PasswordError("the two passwords differ; nothing was written")
    except EOFError:
        raise PasswordError("no password entered") from None
    return password


# --- create and import ---------------------------------------------------------------------


def create(args: argparse.Namespace) -> int:
    """Generate a key of ``--type`` and encrypt it to a new file; returns the exit code."""
    directory = args.dir.expanduser()
    path = keystore_path(directory, args.name, args.type)
    _refuse_existing(path)
    password = _password(args, confirm=True)
    if args.type == "bls":
        _save_bls(path, BlsKeyPair.generate(), password, verb="created")
    else:
        _save_ecdsa(path, EcdsaKey.generate(), password, verb="created")
    return 0


def import_key(args: argparse.Namespace) -> int:
    """Encrypt the secret in ``--secret-file`` to a new key file; returns the exit code."""
    path = keystore_path(args.dir.expanduser(), args.name, args.type)
    _refuse_existing(path)
    secret_file = args.secret_file.expanduser()
    raw = read_secret_file(secret_file, allow_insecure_permissions=args.allow_insecure_permissions)
    if args.type == "bls":
        keypair = _parse_bls_secret(raw, secret_file)
        password = _password(args, confirm=True)
        _save_bls(path, keypair, password, verb="imported")
    else:
        key = _parse_ecdsa_secret(raw, secret_file)
        password = _password(args, confirm=True)
        _save_ecdsa(path, key, password, verb="imported")
    return 0


def _refuse_existing(path: Path) -> None:
    # Checked before asking for a password; the write itself re-checks atomically.
    if path.exists() or path.is_symlink():
        raise KeystoreError(f"{path} already exists; refusing to overwrite it", path=str(path))


def _parse_bls_secret(raw: bytes, source: Path) -> BlsKeyPair:
    # The message never quotes the file's content: it is a secret.
    text = raw.decode("ascii", errors="replace").strip()
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        value = -1
    if not 0 < value < CURVE_ORDER:
        raise KeystoreError(
            f"{source}: not a BLS secret key (want one decimal or 0x-hex integer in [1, r))",
            path=str(source),
        )
    return BlsKeyPair(value)


def _parse_ecdsa_secret(raw: bytes, source: Path) -> EcdsaKey:
    text = raw.decode("ascii", errors="replace").strip().lower().removeprefix("0x")
    try:
        if not re.fullmatch(r"[0-9a-f]{64}", text):
            raise ValueError
        return EcdsaKey.from_secret(bytes.fromhex(text))
    except (ValueError, CryptoError):
        raise KeystoreError(
            f"{source}: not an ECDSA secret key (want 64 hex digits, a valid secp256k1 scalar)",
            path=str(source),
        ) from None


def _save_bls(path: Path, keypair: BlsKeyPair, password: str, *, verb: str) -> None:
    save_bls_keystore(path, keypair, password)
    print(f"{verb} bls key {path.name.removesuffix(SUFFIXES['bls'])!r}")
    _print_fields(
        file=str(path),
        pubkey_g1="0x" + keypair.pubkey_g1.hex(),
        pubkey_g2="0x" + keypair.pubkey_g2.hex(),
        operator_id="0x" + keypair.operator_id.hex(),
    )


def _save_ecdsa(path: Path, key: EcdsaKey, password: str, *, verb: str) -> None:
    save_ecdsa_keystore(path, key, password)
    print(f"{verb} ecdsa key {path.name.removesuffix(SUFFIXES['ecdsa'])!r}")
    _print_fields(file=str(path), address=key.address)


def _print_fields(**fields: str) -> None:
    for label, value in fields.items():
        print(f"  {label + ':':<13}{value}")


# --- list and show -------------------------------------------------------------------------


def _key_files(directory: Path) -> list[tuple[str, KeyType, Path]]:
    """(name, type, path) of every key file in ``directory``, sorted by name then type."""
    if not directory.is_dir():
        raise KeystoreError(f"{directory} is not a directory", path=str(directory))
    found: list[tuple[str, KeyType, Path]] = []
    for path in directory.iterdir():
        for key_type, suffix in SUFFIXES.items():
            if path.name.endswith(suffix) and path.is_file():
                found.append((path.name.removesuffix(suffix), key_type, path))
    return sorted(found)


def _public_data(key_type: KeyType, path: Path) -> tuple[str, str]:
    """(public key or address, operator id or '-') read without decrypting anything."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeystoreError(f"cannot read {path}: {exc.strerror}", path=str(path)) from None
    if key_type == "ecdsa":
        return ecdsa_keystore_address(data, path=str(path)), "-"
    pubkey = bls_keystore_pubkey(data, path=str(path))
    return "0x" + pubkey.to_bytes().hex(), "0x" + operator_id_of(pubkey).hex()


def list_keys(args: argparse.Namespace) -> int:
    """Print a table (or with ``--json`` a document) of the keys in ``--dir`` without decrypting
    any; returns the exit code."""
    directory = args.dir.expanduser()
    documents = [
        _key_document(name, key_type, path) for name, key_type, path in _key_files(directory)
    ]
    for document in documents:
        if document["insecure_permissions"]:
            _warn_insecure(Path(document["file"]), document["mode"])
    if wants_json(args):
        print_json({"directory": str(directory), "keys": documents})
        return 0
    if not documents:
        print(f"no keys in {directory}")
        return 0
    rows = [("NAME", "TYPE", "PUBLIC KEY / ADDRESS", "OPERATOR ID")]
    for doc in documents:
        public = doc["address"] or doc["pubkey_g1"] or f"(unreadable: {doc['error']})"
        rows.append((doc["name"], doc["type"], public, doc["operator_id"] or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, [*widths, 0], strict=True)))
    return 0


def _key_document(name: str, key_type: KeyType, path: Path) -> dict[str, Any]:
    """One key's public data, as ``keys list --json`` and ``keys show --json`` print it: the
    keys of the other type are null, and so are they all (with ``error`` set) for a file that
    cannot be read as a keystore."""
    mode = stat.S_IMODE(path.stat().st_mode)
    document: dict[str, Any] = {
        "name": name,
        "type": key_type,
        "file": str(path),
        "mode": f"{mode:04o}",
        "insecure_permissions": bool(mode & 0o077),
        "address": None,
        "pubkey_g1": None,
        "operator_id": None,
        "error": None,
    }
    try:
        public, operator_id = _public_data(key_type, path)
    except CryptoError as exc:
        document["error"] = str(exc)
        return document
    if key_type == "ecdsa":
        document["address"] = public
    else:
        document |= {"pubkey_g1": public, "operator_id": operator_id}
    return document


def _warn_insecure(path: Path, mode: str) -> None:
    print(
        f"warning: {path} has mode {mode}; the node will refuse it until: chmod 600 {path}",
        file=sys.stderr,
    )


def show(args: argparse.Namespace) -> int:
    """Print one key's public data (as JSON with ``--json``), decrypting it with ``--decrypt``;
    returns the exit code."""
    directory = args.dir.expanduser()
    matches = [
        (key_type, path)
        for name, key_type, path in _key_files(directory)
        if name == args.name and args.type in (None, key_type)
    ]
    if not matches:
        raise KeystoreError(f"no key named {args.name!r} in {directory}", path=str(directory))
    documents = [_show_one(args, key_type, path) for key_type, path in matches]
    if wants_json(args):
        print_json({"keys": documents})
    return 0


def _show_one(args: argparse.Namespace, key_type: KeyType, path: Path) -> dict[str, Any]:
    """One key's document (``pubkey_g2`` and ``decrypted`` filled by ``--decrypt``), printed
    for a person unless ``--json``; a file that is no keystore raises its error."""
    document = _key_document(args.name, key_type, path)
    if document["error"] is not None:
        raise KeystoreError(document["error"], path=str(path))
    document |= {"pubkey_g2": None, "decrypted": False}
    if args.decrypt:
        password = _password(args, confirm=False)
        insecure = args.allow_insecure_permissions
        if key_type == "bls":
            keypair = load_bls_keystore(path, password, allow_insecure_permissions=insecure)
            document["pubkey_g2"] = "0x" + keypair.pubkey_g2.hex()
        else:
            load_ecdsa_keystore(path, password, allow_insecure_permissions=insecure)
        document["decrypted"] = True
    if not wants_json(args):
        _print_shown(key_type, document)
    return document


def _print_shown(key_type: KeyType, document: dict[str, Any]) -> None:
    print(f"{key_type} key {document['name']!r}")
    fields = {"file": document["file"], "mode": document["mode"]}
    if key_type == "bls":
        fields |= {"pubkey_g1": document["pubkey_g1"], "operator_id": document["operator_id"]}
    else:
        fields["address"] = document["address"]
    if document["pubkey_g2"] is not None:
        fields["pubkey_g2"] = document["pubkey_g2"]
    if document["decrypted"]:
        fields["decrypted"] = "ok (password correct, key matches the file's public data)"
    _print_fields(**fields)
