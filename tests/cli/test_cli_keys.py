"""``operator-node keys`` as a real process: prompts on a real terminal, files, env, exit codes.

Keys the CLI writes use the standard scrypt strength (as eigenlayer-cli does); keys a test only
needs to exist are written in-process with light parameters.
"""

from __future__ import annotations

import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli.terminal import read_until

from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import (
    keystore_path,
    load_bls_keystore,
    load_ecdsa_keystore,
    save_bls_keystore,
)

CLI = str(Path(sys.executable).with_name("operator-node"))
PASSWORD = "s3cret-Passw0rd-for-tests"
ENV_NAME = "OPERATOR_NODE_KEY_PASSWORD"
LIGHT = {"scrypt_n": 16, "scrypt_p": 1}


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_NAME}
    env["HOME"] = str(tmp_path)
    env.update(extra)
    return env


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "keys", *args],
        check=False,
        env=clean_env(tmp_path, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def secret_file(tmp_path: Path, name: str, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(content)
    path.chmod(mode)
    return path


def run_on_terminal(tmp_path: Path, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run the CLI on a new pseudo-terminal answering each prompt; (exit code, all it showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as in an interactive shell
        os.execve(CLI, [CLI, "keys", *args], clean_env(tmp_path))
    seen = b""
    try:
        for answer in answers:
            seen = read_until(fd, seen, b"assword: ", 60.0)
            os.write(fd, answer.encode() + b"\n")
        seen = read_until(fd, seen, None, 60.0)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_cli_keys_create_bls_on_a_terminal_asks_twice_and_writes_0600(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    code, shown = run_on_terminal(
        tmp_path, ["create", "--type", "bls", "--name", "op", "--dir", str(keys_dir)],
        [PASSWORD, PASSWORD],
    )  # fmt: skip
    assert code == 0, shown
    assert "Password: " in shown and "Repeat password: " in shown
    assert PASSWORD not in shown
    path = keystore_path(keys_dir, "op", "bls")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keypair = load_bls_keystore(path, PASSWORD)
    assert f"0x{keypair.operator_id.hex()}" in shown
    assert f"0x{keypair.pubkey_g2.hex()}" in shown


def test_cli_keys_create_on_a_terminal_with_two_different_passwords_writes_nothing(
    tmp_path: Path,
) -> None:
    keys_dir = tmp_path / "keys"
    code, shown = run_on_terminal(
        tmp_path, ["create", "--type", "bls", "--name", "op", "--dir", str(keys_dir)],
        [PASSWORD, PASSWORD + "typo"],
    )  # fmt: skip
    assert code == 1
    assert "passwords differ" in shown and PASSWORD not in shown
    assert not keystore_path(keys_dir, "op", "bls").exists()


def test_cli_keys_create_ecdsa_with_the_password_in_the_environment(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    result = run_cli(tmp_path, "create", "--type", "ecdsa", "--name", "op", "--dir", str(keys_dir),
                     **{ENV_NAME: PASSWORD})  # fmt: skip
    assert result.returncode == 0, result.stderr
    key = load_ecdsa_keystore(keystore_path(keys_dir, "op", "ecdsa"), PASSWORD)
    assert key.address in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_cli_keys_import_list_and_show_a_bls_secret(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    secret = 0x1B2E3D4C5B6A798897A6B5C4D3E2F1
    expected = BlsKeyPair(secret)
    password_file = secret_file(tmp_path, "password", PASSWORD + "\n")
    source = secret_file(tmp_path, "secret", f"{secret}\n")
    imported = run_cli(tmp_path, "import", "--type", "bls", "--name", "imported", "--dir",
                       str(keys_dir), "--secret-file", str(source),
                       "--password-file", str(password_file))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert f"0x{expected.operator_id.hex()}" in imported.stdout
    assert str(secret) not in imported.stdout and PASSWORD not in imported.stdout
    # A second key, group-readable as eigenlayer-cli leaves them, to see the listing warn.
    loose = keystore_path(keys_dir, "loose", "bls")
    save_bls_keystore(loose, BlsKeyPair(99), PASSWORD, **LIGHT)
    loose.chmod(0o644)
    listed = run_cli(tmp_path, "list", "--dir", str(keys_dir))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "TYPE"]
    assert lines[1].split() == ["imported", "bls", f"0x{expected.pubkey_g1.hex()}",
                                f"0x{expected.operator_id.hex()}"]  # fmt: skip
    assert f"chmod 600 {loose}" in listed.stderr
    shown = run_cli(tmp_path, "show", "imported", "--dir", str(keys_dir), "--decrypt",
                    "--password-file", str(password_file))  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert f"0x{expected.pubkey_g2.hex()}" in shown.stdout
    assert "mode:        0600" in shown.stdout


def test_cli_keys_show_with_a_wrong_password_fails_without_echoing_it(tmp_path: Path) -> None:
    save_bls_keystore(keystore_path(tmp_path, "op", "bls"), BlsKeyPair(5), PASSWORD, **LIGHT)
    wrong = "definitely-the-wrong-one"
    result = run_cli(tmp_path, "show", "op", "--dir", str(tmp_path), "--decrypt",
                     **{ENV_NAME: wrong})  # fmt: skip
    assert result.returncode == 1
    assert "wrong password" in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_cli_keys_create_refuses_to_overwrite_an_existing_key(tmp_path: Path) -> None:
    path = keystore_path(tmp_path, "op", "bls")
    save_bls_keystore(path, BlsKeyPair(5), PASSWORD, **LIGHT)
    before = path.read_bytes()
    result = run_cli(tmp_path, "create", "--type", "bls", "--name", "op", "--dir", str(tmp_path),
                     **{ENV_NAME: PASSWORD})  # fmt: skip
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert path.read_bytes() == before


def test_cli_keys_create_without_any_password_source_fails(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "create", "--type", "bls", "--name", "op", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "no password" in result.stderr and ENV_NAME in result.stderr
    assert list(tmp_path.glob("*.key.json")) == []


@pytest.mark.parametrize("allow", [False, True])
def test_cli_keys_group_readable_password_file_is_refused_unless_allowed(
    tmp_path: Path, allow: bool
) -> None:
    password_file = secret_file(tmp_path, "password", PASSWORD, mode=0o644)
    args = ["create", "--type", "ecdsa", "--name", "op", "--dir", str(tmp_path / "keys"),
            "--password-file", str(password_file)]  # fmt: skip
    result = run_cli(tmp_path, *args, *(["--allow-insecure-permissions"] if allow else []))
    assert PASSWORD not in result.stdout + result.stderr
    if allow:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 1
        assert f"chmod 600 {password_file}" in result.stderr
        assert not (tmp_path / "keys").exists()


def test_cli_keys_import_rejects_a_bad_secret_without_quoting_it(tmp_path: Path) -> None:
    source = secret_file(tmp_path, "secret", "0xnot-a-number-but-maybe-secret\n")
    result = run_cli(tmp_path, "import", "--type", "bls", "--name", "op", "--dir", str(tmp_path),
                     "--secret-file", str(source), **{ENV_NAME: PASSWORD})  # fmt: skip
    assert result.returncode == 1
    assert "not a BLS secret key" in result.stderr
    assert "maybe-secret" not in result.stderr


def test_cli_keys_bad_name_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "create", "--type", "bls", "--name", "../escape", "--dir",
                     str(tmp_path), **{ENV_NAME: PASSWORD})  # fmt: skip
    assert result.returncode == 2
    assert "key name" in result.stderr
