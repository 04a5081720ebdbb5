"""``[chain]`` keys of the operability work: fallback RPC URLs from the file or the environment
(checked to be http(s) URLs, never quoted back, since they may hold API keys), and the
intervals of the chain service and the chain watcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from operator_node.config import load_config
from operator_node.errors import ConfigError

KEY = "s3cretK3y0123456789abcdef"
RC = "0x" + "11" * 20


def _write(tmp_path: Path, chain: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(
        f'[chain]\nrpc_url = "http://127.0.0.1:8545"\nregistry_coordinator = "{RC}"\n{chain}\n'
    )
    return path


def test_chain_config_fallbacks_from_file_and_environment(tmp_path: Path) -> None:
    path = _write(tmp_path, f'rpc_fallback_urls = ["https://rpc.example/v2/{KEY}"]')
    assert load_config(path, environ={}).chain.rpc_fallback_urls == (
        f"https://rpc.example/v2/{KEY}",
    )
    environ = {
        "OPERATOR_NODE__CHAIN__RPC_FALLBACK_URLS": f"https://a.example/{KEY}, http://127.0.0.1:9"
    }
    chain = load_config(path, environ=environ).chain
    assert chain.rpc_fallback_urls == (f"https://a.example/{KEY}", "http://127.0.0.1:9")
    defaults = load_config(_write(tmp_path, ""), environ={}).chain
    assert defaults.rpc_fallback_urls == ()
    assert (defaults.refresh_interval, defaults.watch_interval, defaults.watch_from_block) == (
        60.0,
        30.0,
        -1,
    )


def test_chain_config_refuses_a_fallback_that_is_not_an_http_url_without_quoting_it(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, f'rpc_fallback_urls = ["wss://rpc.example/{KEY}"]')
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    assert "chain.rpc_fallback_urls must be an http:// or https:// URL" in str(raised.value)
    assert KEY not in str(raised.value)
    with pytest.raises(ConfigError, match=r"chain.watch_interval must be at least 0"):
        load_config(_write(tmp_path, "watch_interval = -1.0"), environ={})
