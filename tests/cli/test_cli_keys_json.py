"""``operator-node keys list --json`` and ``keys show --json``: one document on stdout with the
documented keys, warnings on stderr, errors as ``{"error", "code"}``, no secret anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from operator_node.cli import main
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import EcdsaKey, save_bls_keystore, save_ecdsa_keystore

LIGHT = {"scrypt_n": 1 << 10, "scrypt_p": 1}
PASSWORD = "keys-json-password-5b1f"
KEY_FIELDS = {
    "name", "type", "file", "mode", "insecure_permissions", "address", "pubkey_g1",
    "operator_id", "error",
}  # fmt: skip
BLS = BlsKeyPair(0xB15B15)
ECDSA = EcdsaKey.from_secret(bytes.fromhex("42" * 32))


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    """A key directory with BLS and ECDSA keys named "op" and an ECDSA key "open" (0644)."""
    directory = tmp_path / "keys"
    save_bls_keystore(directory / "op.bls.key.json", BLS, PASSWORD, **LIGHT)
    save_ecdsa_keystore(directory / "op.ecdsa.key.json", ECDSA, PASSWORD, **LIGHT)
    save_ecdsa_keystore(directory / "open.ecdsa.key.json", ECDSA, PASSWORD, **LIGHT)
    (directory / "open.ecdsa.key.json").chmod(0o644)
    return directory


def test_cli_keys_list_json_has_the_documented_keys(
    keys_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "list", "--dir", str(keys_dir), "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["directory"] == str(keys_dir)
    keys = {(key["name"], key["type"]): key for key in document["keys"]}
    assert sorted(keys) == [("op", "bls"), ("op", "ecdsa"), ("open", "ecdsa")]
    assert all(set(key) == KEY_FIELDS for key in keys.values())
    bls = keys[("op", "bls")]
    assert bls["operator_id"] == "0x" + BLS.operator_id.hex()
    assert bls["pubkey_g1"] == "0x" + BLS.pubkey_g1.hex() and bls["address"] is None
    assert keys[("op", "ecdsa")]["address"] == ECDSA.address
    assert keys[("op", "ecdsa")]["mode"] == "0600"
    assert keys[("open", "ecdsa")]["insecure_permissions"] is True
    assert "open.ecdsa.key.json has mode 0644" in captured.err  # the warning, on stderr


def test_cli_keys_show_json_decrypts_and_adds_the_g2_key(
    keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD)
    password_file.chmod(0o600)
    argv = ["keys", "show", "op", "--dir", str(keys_dir), "--json"]
    assert main([*argv, "--decrypt", "--password-file", str(password_file)]) == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out
    shown = {key["type"]: key for key in json.loads(out)["keys"]}
    assert set(shown) == {"bls", "ecdsa"}
    assert all(set(key) == KEY_FIELDS | {"pubkey_g2", "decrypted"} for key in shown.values())
    assert shown["bls"]["pubkey_g2"] == "0x" + BLS.pubkey_g2.hex()
    assert shown["bls"]["decrypted"] is True and shown["ecdsa"]["decrypted"] is True
    assert shown["ecdsa"]["pubkey_g2"] is None

    assert main([*argv, "--type", "ecdsa"]) == 0
    (only,) = json.loads(capsys.readouterr().out)["keys"]
    assert only["address"] == ECDSA.address and only["decrypted"] is False


def test_cli_keys_json_errors_are_json_with_the_exit_code(
    keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "show", "nobody", "--dir", str(keys_dir), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "error": f"no key named 'nobody' in {keys_dir}",
        "code": 1,
    }
    assert "no key named 'nobody'" in captured.err
    # A usage error too: exit 2, and the message as the document.
    assert main(["keys", "list", "--json", "--no-such-flag"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["code"] == 2 and "--no-such-flag" in document["error"]
