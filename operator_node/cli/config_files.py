"""The files a configuration names, checked the way ``run`` will use them (``config check``).

For each of the BLS and ECDSA keys, when ``[keys] <type>_keystore`` is set: the keystore and
its password file exist, are regular files, can be read, are private (no group or other access,
unless ``[keys] allow_insecure_permissions``) and the keystore is one; then, when a password is
given (the password file, else the environment variable the node reads), the keystore is
decrypted with it — scrypt, about a second per key at the standard strength. Every problem is
one line naming the key and the path; nothing secret is ever part of a line.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from operator_node.cli.credentials import BLS_PASSWORD_ENV, ECDSA_PASSWORD_ENV
from operator_node.config import Config
from operator_node.crypto.errors import CryptoError
from operator_node.crypto.keystore import (
    bls_keystore_pubkey,
    ecdsa_keystore_address,
    load_bls_keystore,
    load_ecdsa_keystore,
    read_password_file,
)


@dataclass
class FileReport:
    """What the checks found: ``problems`` make ``config check`` fail, ``notes`` do not."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_key_files(config: Config) -> FileReport:
    """Check both keys' files (see the module docstring); never raises for a bad file."""
    report = FileReport()
    _check_key(config, "bls", BLS_PASSWORD_ENV, report)
    _check_key(config, "ecdsa", ECDSA_PASSWORD_ENV, report)
    return report


def _check_key(config: Config, what: str, env: str, report: FileReport) -> None:
    keys = config.keys
    keystore: Path | None = getattr(keys, f"{what}_keystore")
    password_file: Path | None = getattr(keys, f"{what}_password_file")
    if keystore is None:
        return
    allow = keys.allow_insecure_permissions
    keystore_ok = _check_private_file(f"keys.{what}_keystore", keystore, allow, report)
    if keystore_ok:
        keystore_ok = _check_is_keystore(what, keystore, report)
    if password_file is not None:
        if not _check_private_file(f"keys.{what}_password_file", password_file, allow, report):
            return
        password = read_password_file(password_file, allow_insecure_permissions=True)
        source = f"keys.{what}_password_file {password_file}"
    elif env in os.environ:
        password, source = os.environ[env], env
    else:
        report.notes.append(
            f"keys.{what}_keystore: {keystore}: not decrypted, no password given here "
            f"(keys.{what}_password_file or {env}); run needs one"
        )
        return
    if keystore_ok:
        _check_decrypts(what, keystore, password, source, report)


def _check_private_file(key: str, path: Path, allow_insecure: bool, report: FileReport) -> bool:
    """A regular, readable file with no group/other access (unless allowed); False, with the
    problem reported, otherwise."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            report.problems.append(f"{key}: {path} is not a regular file")
            return False
        with path.open("rb"):
            pass
    except FileNotFoundError:
        report.problems.append(f"{key}: {path} does not exist")
        return False
    except OSError as exc:
        report.problems.append(f"{key}: {path} cannot be read: {exc.strerror}")
        return False
    if stat.S_IMODE(mode) & 0o077 and not allow_insecure:
        report.problems.append(
            f"{key}: {path} has mode {stat.S_IMODE(mode):04o}, open to group or others, and the "
            f"node refuses it; fix: chmod 600 {shlex.quote(str(path))} "
            "(or set [keys] allow_insecure_permissions)"
        )
        return False
    return True


_PUBLIC_DATA: dict[str, Callable[..., object]] = {
    "bls": bls_keystore_pubkey,
    "ecdsa": ecdsa_keystore_address,
}


def _check_is_keystore(what: str, keystore: Path, report: FileReport) -> bool:
    """Whether the file reads as a keystore of its type (no password needed for that)."""
    try:
        _PUBLIC_DATA[what](keystore.read_bytes(), path=str(keystore))
    except (CryptoError, OSError) as exc:
        report.problems.append(f"keys.{what}_keystore: not a {what} keystore: {exc}")
        return False
    return True


def _check_decrypts(
    what: str, keystore: Path, password: str, source: str, report: FileReport
) -> None:
    load = load_bls_keystore if what == "bls" else load_ecdsa_keystore
    try:
        load(keystore, password, allow_insecure_permissions=True)
    except CryptoError as exc:
        # The keystore's own message names the path and the cause, never the password.
        report.problems.append(f"keys.{what}_keystore: {exc} (password from {source})")
        return
    report.notes.append(
        f"keys.{what}_keystore: {keystore} decrypts with the password from {source}"
    )
