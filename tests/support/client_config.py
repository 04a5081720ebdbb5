"""A client (disperser) config for a running devnet, as `operator-node disperse` reads it."""

from __future__ import annotations

from pathlib import Path

from operator_node.crypto.keystore import EcdsaKey, save_ecdsa_keystore
from operator_node.devnet.network import Devnet


def write_client_config(tmp_path: Path, devnet: Devnet, password: str) -> Path:
    """``tmp_path/client.toml``: the devnet's chain and the disperser's keystore (light scrypt),
    its password in a 0600 file."""
    keystore = tmp_path / "disperser.ecdsa.key.json"
    password_file = tmp_path / "password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    key = EcdsaKey.from_secret(bytes(devnet.disperser.key))
    save_ecdsa_keystore(keystore, key, password, scrypt_n=1 << 10)
    chain = devnet.chain_section()
    config = tmp_path / "client.toml"
    config.write_text(
        f'[keys]\necdsa_keystore = "{keystore}"\necdsa_password_file = "{password_file}"\n'
        f'[chain]\nrpc_url = "{chain.rpc_url}"\n'
        f'registry_coordinator = "{chain.registry_coordinator}"\n'
        f'operator_state_retriever = "{chain.operator_state_retriever}"\n'
    )
    return config
