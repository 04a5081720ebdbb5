"""``operator-node config check`` and ``config show`` on real files.

``check`` passes only what ``run`` would accept: it opens the keystores and password files the
config names, refuses the ones group or others can read, and decrypts each keystore with the
password the node would use (file, else environment). ``show`` prints the effective
configuration as TOML that parses back (or JSON), RPC credentials redacted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from operator_node.cli import main
from operator_node.cli.redact import redact_url
from operator_node.config import load_config
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import EcdsaKey, save_bls_keystore, save_ecdsa_keystore

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"

LIGHT = {"scrypt_n": 1 << 10, "scrypt_p": 1}  # test keystores only; real ones use 2^18
BLS_PASSWORD = "bls-password-3c9e"
ECDSA_PASSWORD = "ecdsa-password-71ad"
BLS_ENV = "OPERATOR_NODE_BLS_KEY_PASSWORD"
ECDSA_ENV = "OPERATOR_NODE_ECDSA_KEY_PASSWORD"
SECRET_URL = "https://ops:hunter2pw@rpc.example.org/v3/0123456789abcdef0123456789abcdef?apikey=k3y9"


@pytest.fixture(autouse=True)
def _no_password_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (BLS_ENV, ECDSA_ENV):
        monkeypatch.delenv(name, raising=False)


def _private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _key_files(tmp_path: Path) -> dict[str, Path]:
    """Both keystores and their password files, all 0600, under ``tmp_path/keys``."""
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    files = {
        "bls_keystore": keys / "op.bls.key.json",
        "bls_password_file": _private(keys / "bls.pw", BLS_PASSWORD + "\n"),
        "ecdsa_keystore": keys / "op.ecdsa.key.json",
        "ecdsa_password_file": _private(keys / "ecdsa.pw", ECDSA_PASSWORD),
    }
    save_bls_keystore(files["bls_keystore"], BlsKeyPair(0xC0FFEE), BLS_PASSWORD, **LIGHT)
    ecdsa = EcdsaKey.from_secret(bytes.fromhex("11" * 32))
    save_ecdsa_keystore(files["ecdsa_keystore"], ecdsa, ECDSA_PASSWORD, **LIGHT)
    return files


def _config(tmp_path: Path, keys: dict[str, Path | str], extra: str = "") -> Path:
    lines = "\n".join(f'{key} = "{value}"' for key, value in keys.items())
    path = tmp_path / "node.toml"
    path.write_text(f"[keys]\n{lines}\n{extra}")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_config_check_passes_a_good_config_and_decrypts_both_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _key_files(tmp_path)
    config = str(_config(tmp_path, dict(files)))
    code, out, err = _run(capsys, "config", "check", "--config", config)
    assert code == 0, err
    assert "configuration is valid" in out
    assert f"keys.bls_keystore: {files['bls_keystore']} decrypts" in out
    assert f"keys.ecdsa_keystore: {files['ecdsa_keystore']} decrypts" in out

    code, out, err = _run(capsys, "config", "check", "--config", config, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["valid"] is True and document["problems"] == []
    assert document["config"] == config and len(document["notes"]) == 2
    assert BLS_PASSWORD not in out + err and ECDSA_PASSWORD not in out + err


def test_cli_config_check_flags_missing_keystore_and_open_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _key_files(tmp_path)
    missing = tmp_path / "keys" / "gone.bls.key.json"
    files["ecdsa_password_file"].chmod(0o644)
    config = str(_config(tmp_path, {**files, "bls_keystore": missing}))
    code, out, err = _run(capsys, "config", "check", "--config", config)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == f"{config}: 2 problems:"
    assert lines[1] == f"  keys.bls_keystore: {missing} does not exist"
    assert lines[2].startswith(f"  keys.ecdsa_password_file: {files['ecdsa_password_file']} ")
    assert "mode 0644" in lines[2] and "chmod 600" in lines[2]

    code, out, _ = _run(capsys, "config", "check", "--config", config, "--json")
    document = json.loads(out)
    assert code == 2 and document["code"] == 2 and document["valid"] is False
    assert document["error"] == f"{config}: 2 problems"
    assert [p.split(":")[0] for p in document["problems"]] == [
        "keys.bls_keystore",
        "keys.ecdsa_password_file",
    ]

    # What `run` accepts with allow_insecure_permissions, check accepts too.
    files["bls_keystore"] = tmp_path / "keys" / "op.bls.key.json"
    allowed = str(_config(tmp_path, dict(files), "allow_insecure_permissions = true\n"))
    assert _run(capsys, "config", "check", "--config", allowed)[0] == 0


def test_cli_config_check_flags_wrong_passwords_from_file_and_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _key_files(tmp_path)
    _private(files["ecdsa_password_file"], "not-the-password")
    del files["bls_password_file"]  # the node then reads the environment
    monkeypatch.setenv(BLS_ENV, "also-wrong")
    config = str(_config(tmp_path, dict(files)))
    code, out, err = _run(capsys, "config", "check", "--config", config, "--json")
    assert code == 2
    problems = json.loads(out)["problems"]
    assert len(problems) == 2
    bls, ecdsa = problems
    assert bls.startswith(f"keys.bls_keystore: {files['bls_keystore']}: ")
    assert "wrong password" in bls and bls.endswith(f"(password from {BLS_ENV})")
    assert ecdsa.startswith(f"keys.ecdsa_keystore: {files['ecdsa_keystore']}: ")
    assert ecdsa.endswith(
        f"(password from keys.ecdsa_password_file {files['ecdsa_password_file']})"
    )
    assert "not-the-password" not in out + err and "also-wrong" not in out + err

    monkeypatch.setenv(BLS_ENV, BLS_PASSWORD)
    _private(files["ecdsa_password_file"], ECDSA_PASSWORD)
    code, out, err = _run(capsys, "config", "check", "--config", config)
    assert code == 0, err
    assert f"decrypts with the password from {BLS_ENV}" in out


def test_cli_config_check_reports_invalid_toml_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[api]\nport = 0\n[nope]\n")
    code, out, _ = _run(capsys, "config", "check", "--config", str(config), "--json")
    document = json.loads(out)
    assert code == 2 and document["code"] == 2 and document["valid"] is False
    assert any("api.port" in p for p in document["problems"])
    assert any("[nope]" in p for p in document["problems"])


def test_cli_config_show_prints_effective_config_with_rpc_credentials_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        f'[chain]\nrpc_url = "{SECRET_URL}"\nregistry_coordinator = "0x{"ab" * 20}"\n'
        f'operator_state_retriever = "0x{"cd" * 20}"\n[api]\nport = 4000\n'
    )
    monkeypatch.setenv("OPERATOR_NODE__API__HOST", "127.0.0.1")
    code, out, err = _run(capsys, "config", "show", "--config", str(config))
    assert code == 0, err
    for secret in ("ops", "hunter2pw", "0123456789abcdef0123456789abcdef", "k3y9"):
        assert secret not in out
    shown = tomllib.loads(out)
    assert (
        shown["chain"]["rpc_url"] == "https://REDACTED@rpc.example.org/v3/REDACTED?apikey=REDACTED"
    )
    assert 'host = "127.0.0.1"  # from OPERATOR_NODE__API__HOST' in out
    assert "\nport = 4000\n" in out  # from the file: no comment
    assert "# bls_keystore = (not set)" in out
    # Every other key is the value the node would use.
    effective = load_config(config)
    assert shown["api"]["port"] == 4000 and shown["api"]["host"] == "127.0.0.1"
    assert shown["store"]["max_size"] == effective.store.max_size
    assert shown["chain"]["quorums"] == list(effective.chain.quorums)
    assert shown["node"]["data_dir"] == str(effective.node.data_dir)

    code, out, _ = _run(capsys, "config", "show", "--config", str(config), "--json")
    document: dict[str, Any] = json.loads(out)
    assert code == 0 and "hunter2pw" not in out
    assert document["chain"]["rpc_url"] == shown["chain"]["rpc_url"]
    assert document["keys"]["bls_keystore"] is None
    assert set(document) == set(shown)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://eth.example.org/rpc", "https://eth.example.org/rpc"),
        ("https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161",
         "https://mainnet.infura.io/v3/REDACTED"),
        ("https://eth-holesky.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEf",
         "https://eth-holesky.g.alchemy.com/v2/REDACTED"),
        ("https://name.quiknode.pro/0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4/",
         "https://name.quiknode.pro/REDACTED/"),
        ("wss://user:pass@node.example.org:8546/ws?token=abc&x=1",
         "wss://REDACTED@node.example.org:8546/ws?token=REDACTED&x=REDACTED"),
        ("not a url", "not a url"),
    ],
)  # fmt: skip
def test_cli_config_redact_url_hides_credentials_and_keeps_the_endpoint(
    url: str, shown: str
) -> None:
    assert redact_url(url) == shown


def test_config_show_into_a_closed_pipe_stops_quietly() -> None:
    # `operator-node config show | head -1`: the reader is gone before the output is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "operator_node", "config", "show", "--config", str(EXAMPLE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the only reader: every write now fails with EPIPE
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert stderr == ""
