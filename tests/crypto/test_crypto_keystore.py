"""Keystore files: formats, round trips, tampering, permissions and the no-overwrite rule.

Writes use light scrypt parameters (n = 16) to stay fast; loading the hand-made eigensdk-format
fixture runs at the standard strength (n = 2^18) once.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.bn254 import G1_GENERATOR, g1_neg
from operator_node.crypto.errors import (
    InsecurePermissionsError,
    KeyMismatchError,
    KeystoreError,
    KeystoreExistsError,
    KeystoreFormatError,
    WrongPasswordError,
)
from operator_node.crypto.keystore import (
    EcdsaKey,
    bls_keystore_pubkey,
    decode_bls_keystore,
    decode_ecdsa_keystore,
    ecdsa_keystore_address,
    encrypt_v3,
    format_bls_pubkey,
    keystore_path,
    load_bls_keystore,
    load_ecdsa_keystore,
    parse_bls_pubkey,
    read_password_file,
    save_bls_keystore,
    save_ecdsa_keystore,
)

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PASSWORD = "fixture password, not a secret"
FIXTURE_SECRET = 0x2F4A1C3B5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F70
PASSWORD = "correct horse battery staple"
LIGHT = {"scrypt_n": 16, "scrypt_p": 1}


@pytest.fixture
def keypair() -> BlsKeyPair:
    return BlsKeyPair(0xC0FFEE1234567890)


@pytest.fixture
def bls_file(tmp_path: Path, keypair: BlsKeyPair) -> Path:
    path = keystore_path(tmp_path / "keys", "op", "bls")
    save_bls_keystore(path, keypair, PASSWORD, **LIGHT)
    return path


@pytest.fixture
def zero_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def rewrite(path: Path, change: dict[str, object]) -> None:
    document = json.loads(path.read_text())
    for dotted, value in change.items():
        target = document
        *parents, last = dotted.split(".")
        for key in parents:
            target = target[key]
        target[last] = value
    path.write_text(json.dumps(document))


def test_keystore_bls_round_trip_writes_eigensdk_layout_mode_0600(
    bls_file: Path, keypair: BlsKeyPair, zero_umask: None
) -> None:
    assert bls_file.name == "op.bls.key.json"
    assert stat.S_IMODE(bls_file.stat().st_mode) == 0o600
    text = bls_file.read_text()
    assert " " not in text and "\n" not in text  # compact, like Go's json.Marshal
    document = json.loads(text)
    assert list(document) == ["pubKey", "crypto"]
    crypto = document["crypto"]
    assert list(crypto) == ["cipher", "ciphertext", "cipherparams", "kdf", "kdfparams", "mac"]
    assert list(crypto["kdfparams"]) == ["dklen", "n", "p", "r", "salt"]
    assert crypto["cipher"] == "aes-128-ctr" and crypto["kdf"] == "scrypt"
    assert [len(crypto["kdfparams"]["salt"]), len(crypto["cipherparams"]["iv"])] == [64, 32]
    assert len(crypto["ciphertext"]) == 64 and len(crypto["mac"]) == 64
    point = keypair.pubkey_g1_point
    assert document["pubKey"] == f"E([{point.x},{point.y}])"
    loaded = load_bls_keystore(bls_file, PASSWORD)
    assert loaded.secret_bytes() == keypair.secret_bytes()
    assert bls_keystore_pubkey(bls_file.read_bytes()) == point


def test_keystore_bls_plaintext_is_the_32_byte_secret_for_a_standard_v3_reader(
    bls_file: Path, keypair: BlsKeyPair
) -> None:
    crypto = json.loads(bls_file.read_text())["crypto"]
    plaintext = Account.decrypt({"crypto": crypto, "version": 3}, PASSWORD)
    assert bytes(plaintext) == keypair.secret_bytes()


def test_keystore_loads_the_hand_made_eigensdk_fixture_at_standard_strength(
    tmp_path: Path,
) -> None:
    path = tmp_path / "eigensdk_format.bls.key.json"
    shutil.copyfile(FIXTURES / path.name, path)
    path.chmod(0o600)
    loaded = load_bls_keystore(path, FIXTURE_PASSWORD)
    assert int.from_bytes(loaded.secret_bytes(), "big") == FIXTURE_SECRET
    with pytest.raises(WrongPasswordError):
        load_bls_keystore(path, FIXTURE_PASSWORD + "!")


def test_keystore_password_that_is_not_utf8_round_trips(tmp_path: Path) -> None:
    password = b"caf\xe9".decode("utf-8", "surrogateescape")  # as os.environ would give it
    path = tmp_path / "latin1.bls.key.json"
    save_bls_keystore(path, BlsKeyPair(11), password, **LIGHT)
    assert load_bls_keystore(path, password).secret_bytes() == BlsKeyPair(11).secret_bytes()
    with pytest.raises(WrongPasswordError):
        load_bls_keystore(path, "caf\u00e9")  # the UTF-8 spelling is a different password


def test_keystore_wrong_password_is_a_clear_error_without_the_password(bls_file: Path) -> None:
    with pytest.raises(WrongPasswordError, match="wrong password") as info:
        load_bls_keystore(bls_file, "not the password")
    assert "not the password" not in str(info.value)
    assert str(bls_file) in str(info.value)


def test_keystore_tampered_ciphertext_or_mac_fails_the_mac_check(bls_file: Path) -> None:
    crypto = json.loads(bls_file.read_text())["crypto"]
    for field, value in (("ciphertext", crypto["ciphertext"]), ("mac", crypto["mac"])):
        flipped = ("0" if value[0] != "0" else "1") + value[1:]
        copy = bls_file.with_name(f"{field}.bls.key.json")
        shutil.copyfile(bls_file, copy)
        copy.chmod(0o600)
        rewrite(copy, {f"crypto.{field}": flipped})
        with pytest.raises(WrongPasswordError, match="MAC mismatch"):
            load_bls_keystore(copy, PASSWORD)


def test_keystore_pubkey_that_does_not_match_the_secret_is_refused(
    bls_file: Path, keypair: BlsKeyPair
) -> None:
    other = BlsKeyPair(777).pubkey_g1_point
    rewrite(bls_file, {"pubKey": format_bls_pubkey(other)})
    assert bls_keystore_pubkey(bls_file.read_bytes()) == other
    with pytest.raises(KeyMismatchError):
        load_bls_keystore(bls_file, PASSWORD)


def test_keystore_rejects_malformed_files(bls_file: Path, keypair: BlsKeyPair) -> None:
    good = json.loads(bls_file.read_text())
    cases: list[tuple[bytes, str]] = [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"crypto": good["crypto"]}).encode(), "no pubKey"),
        (json.dumps({**good, "pubKey": "E([1,3])"}).encode(), "bad pubKey"),
        (json.dumps({**good, "pubKey": "garbage"}).encode(), "bad pubKey"),
        (json.dumps({"pubKey": good["pubKey"]}).encode(), "no crypto section"),
        (json.dumps({**good, "crypto": {**good["crypto"], "cipher": "aes-256-gcm"}}).encode(),
         "unsupported cipher"),
        (json.dumps({**good, "crypto": {**good["crypto"], "kdf": "argon2"}}).encode(),
         "unsupported kdf"),
        (json.dumps({**good, "crypto": {**good["crypto"], "kdfparams": {
            **good["crypto"]["kdfparams"], "n": 1 << 24}}}).encode(), "unacceptable scrypt"),
        (json.dumps({**good, "crypto": {**good["crypto"], "mac": "zz"}}).encode(), "malformed"),
    ]  # fmt: skip
    for data, message in cases:
        with pytest.raises(KeystoreFormatError, match=message):
            decode_bls_keystore(data, PASSWORD)


def test_keystore_refuses_a_secret_that_is_not_a_bls_key(keypair: BlsKeyPair) -> None:
    document = {
        "pubKey": format_bls_pubkey(keypair.pubkey_g1_point),
        "crypto": encrypt_v3(bytes(32), PASSWORD, **LIGHT),
    }
    with pytest.raises(KeystoreFormatError, match="not a BLS key"):
        decode_bls_keystore(json.dumps(document).encode(), PASSWORD)


def test_keystore_refuses_group_or_other_readable_files_naming_the_fix(bls_file: Path) -> None:
    for mode in (0o640, 0o604, 0o660):
        bls_file.chmod(mode)
        with pytest.raises(InsecurePermissionsError) as info:
            load_bls_keystore(bls_file, PASSWORD)
        assert f"chmod 600 {bls_file}" in str(info.value)
        assert f"{mode:04o}" in str(info.value)
    loaded = load_bls_keystore(bls_file, PASSWORD, allow_insecure_permissions=True)
    assert loaded.pubkey_g1_point == bls_keystore_pubkey(bls_file.read_bytes())


def test_keystore_never_overwrites_and_leaves_no_temporary_files(
    bls_file: Path, keypair: BlsKeyPair
) -> None:
    before = bls_file.read_bytes()
    with pytest.raises(KeystoreExistsError):
        save_bls_keystore(bls_file, BlsKeyPair(99), PASSWORD, **LIGHT)
    assert bls_file.read_bytes() == before
    assert sorted(p.name for p in bls_file.parent.iterdir()) == [bls_file.name]


def test_keystore_write_is_0600_whatever_the_umask(tmp_path: Path, zero_umask: None) -> None:
    os.umask(0o277)  # would otherwise leave the owner unable to read the file back
    path = tmp_path / "strict.bls.key.json"
    save_bls_keystore(path, BlsKeyPair(5), PASSWORD, **LIGHT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keystore_write_failure_is_a_keystore_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(KeystoreError, match="cannot write"):
        save_bls_keystore(blocker / "sub" / "k.bls.key.json", BlsKeyPair(5), PASSWORD, **LIGHT)


def test_keystore_ecdsa_round_trip_and_standard_v3_interop(tmp_path: Path) -> None:
    key = EcdsaKey.generate()
    path = keystore_path(tmp_path, "op", "ecdsa")
    save_ecdsa_keystore(path, key, PASSWORD, **LIGHT)
    document = json.loads(path.read_text())
    assert list(document) == ["address", "crypto", "id", "version"]
    assert document["version"] == 3 and document["address"] == key.address[2:].lower()
    assert load_ecdsa_keystore(path, PASSWORD).secret_bytes() == key.secret_bytes()
    assert ecdsa_keystore_address(path.read_bytes()) == key.address
    assert bytes(Account.decrypt(document, PASSWORD)) == key.secret_bytes()
    for kdf in ("scrypt", "pbkdf2"):
        theirs = Account.encrypt(key.secret_bytes(), PASSWORD, kdf=kdf, iterations=16)
        assert decode_ecdsa_keystore(json.dumps(theirs).encode(), PASSWORD) == key


def test_keystore_ecdsa_address_mismatch_and_wrong_password(tmp_path: Path) -> None:
    key = EcdsaKey.generate()
    path = keystore_path(tmp_path, "op", "ecdsa")
    save_ecdsa_keystore(path, key, PASSWORD, **LIGHT)
    with pytest.raises(WrongPasswordError):
        load_ecdsa_keystore(path, PASSWORD + "x")
    rewrite(path, {"address": EcdsaKey.generate().address[2:].lower()})
    with pytest.raises(KeyMismatchError):
        load_ecdsa_keystore(path, PASSWORD)
    rewrite(path, {"version": 1})
    with pytest.raises(KeystoreFormatError, match="version 3"):
        load_ecdsa_keystore(path, PASSWORD)
    assert key.secret_bytes().hex() not in repr(key)


def test_keystore_with_an_mcl_pubkey_as_eigensdk_python_writes_it_loads(
    bls_file: Path, keypair: BlsKeyPair
) -> None:
    point = keypair.pubkey_g1_point
    rewrite(bls_file, {"pubKey": f"1 {point.x} {point.y}"})
    assert load_bls_keystore(bls_file, PASSWORD).pubkey_g1_point == point
    rewrite(bls_file, {"pubKey": f"1 {hex(point.x)} {hex(point.y)}"})
    assert load_bls_keystore(bls_file, PASSWORD).pubkey_g1_point == point
    other = BlsKeyPair(777).pubkey_g1_point  # still checked against the decrypted secret
    rewrite(bls_file, {"pubKey": f"1 {other.x} {other.y}"})
    with pytest.raises(KeyMismatchError):
        load_bls_keystore(bls_file, PASSWORD)
    for bad in (f"1 {point.x}", f"0 {point.x} {point.y}", f"1 {point.x} {point.y + 1}"):
        rewrite(bls_file, {"pubKey": bad})
        with pytest.raises(KeystoreFormatError, match="bad pubKey"):
            load_bls_keystore(bls_file, PASSWORD)


def test_pubkey_text_uses_gnark_short_negative_form() -> None:
    minus_g1 = g1_neg(G1_GENERATOR)  # (1, p - 2): gnark prints p - 2 as -2
    assert format_bls_pubkey(minus_g1) == "E([1,-2])"
    assert parse_bls_pubkey("E([1,-2])") == minus_g1
    assert format_bls_pubkey(G1_GENERATOR) == "E([1,2])"
    big = BlsKeyPair(31337).pubkey_g1_point
    assert parse_bls_pubkey(format_bls_pubkey(big)) == big


def test_read_password_file_strips_one_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "password"
    for content, expected in (
        (b"pw\n", "pw"),
        (b"pw\r\n", "pw"),
        (b"pw\n\n", "pw\n"),
        (b"pw", "pw"),
    ):
        path.write_bytes(content)
        path.chmod(0o600)
        assert read_password_file(path) == expected
    path.write_bytes(b"caf\xe9\n")  # Latin-1, not UTF-8: the bytes are used as they are
    assert read_password_file(path).encode("utf-8", "surrogateescape") == b"caf\xe9"
    path.chmod(0o644)
    with pytest.raises(InsecurePermissionsError, match="chmod 600"):
        read_password_file(path)
    with pytest.raises(KeystoreError, match="cannot read"):
        read_password_file(tmp_path / "missing")


def test_keystore_ecdsa_address_matches_eth_account() -> None:
    # EcdsaKey derives the address itself (coincurve + keccak + EIP-55); eth_account is the oracle.
    for seed in range(1, 40):
        secret = Account.create(extra_entropy=str(seed)).key
        assert EcdsaKey.from_secret(bytes(secret)).address == Account.from_key(secret).address
    known = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
    assert EcdsaKey.from_secret(known).address == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
