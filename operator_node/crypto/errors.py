"""Errors raised by :mod:`operator_node.crypto`.

Messages name the file or the value at fault but never a password or a secret key, so they can be
printed and logged as they are.
"""

from __future__ import annotations

from operator_node.errors import OperatorNodeError


class CryptoError(OperatorNodeError):
    """Base class of every error raised on purpose by ``operator_node.crypto``."""


class InvalidPointError(CryptoError):
    """Bytes or coordinates that are not an acceptable BN254 point.

    Raised for a wrong length, a coordinate not below the field prime, a point off the curve, a G2
    point outside the order-r subgroup, or the point at infinity where it has no meaning.
    """


class InvalidScalarError(CryptoError):
    """A secret key that is not an integer in ``[1, r)`` (or not 32 bytes when given as bytes)."""


class InvalidMessageError(CryptoError):
    """A message hash that is not exactly 32 bytes."""


class InvalidBatchError(CryptoError):
    """An empty aggregate or batch, or a batch with a different number of signatures and keys."""


class RegistrationProofError(CryptoError):
    """The pubkey registration parameters fail the equation ``BLSApkRegistry`` checks."""


class KeystoreError(CryptoError):
    """Base class of the keystore errors; ``path`` is the file concerned, when there is one."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class KeystoreFormatError(KeystoreError):
    """Not a keystore we understand: bad JSON, a missing field, an unsupported cipher or KDF."""


class WrongPasswordError(KeystoreError):
    """The MAC does not match: the password is wrong or the ciphertext/MAC was altered."""


class KeyMismatchError(KeystoreError):
    """The decrypted secret does not belong to the public key or address stored in the file."""


class InsecurePermissionsError(KeystoreError):
    """The key file is readable or writable by group or others."""


class KeystoreExistsError(KeystoreError):
    """Refused to write a key file because one already exists at that path."""


class PasswordError(CryptoError):
    """No password could be obtained, the two entries differ, or the password is empty."""
