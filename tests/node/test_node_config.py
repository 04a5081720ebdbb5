"""Configuration: the example is complete and valid; bad input stops with exit 2 naming the key."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest
from support.daemon import node_config, run_cli, write_config

from operator_node.config import Config, StoreSection, load_config
from operator_node.errors import ConfigError
from operator_node.store.shards import MAX_SHARDS

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "example.toml"


def test_config_example_is_valid_and_documents_every_key() -> None:
    config = load_config(EXAMPLE, environ={})
    text = EXAMPLE.read_text()
    for section in dataclasses.fields(Config):
        assert f"[{section.name}]" in text, section.name
        for key in dataclasses.fields(getattr(config, section.name)):
            assert re.search(rf"^{key.name} = ", text, re.MULTILINE), f"{section.name}.{key.name}"


def test_config_shard_limit_is_the_stores() -> None:
    shards = {f.name: f for f in dataclasses.fields(StoreSection)}["shards"]
    assert shards.metadata["hi"] == MAX_SHARDS


def test_config_example_values_are_the_documented_defaults() -> None:
    # Where the example differs from the code's defaults it must be on purpose (loopback, paths).
    config = load_config(EXAMPLE, environ={})
    defaults = Config()
    differing = {
        f"{s.name}.{k.name}"
        for s in dataclasses.fields(Config)
        for k in dataclasses.fields(getattr(defaults, s.name))
        if getattr(getattr(config, s.name), k.name) != getattr(getattr(defaults, s.name), k.name)
    }
    assert differing == {"node.data_dir", "api.host", "metrics.host"}


def test_config_env_overrides_any_key(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"api": {"port": 1234}})
    env = {
        "OPERATOR_NODE__API__PORT": "9000",
        "OPERATOR_NODE__CHAIN__QUORUMS": "0, 1,2",
        "OPERATOR_NODE__METRICS__ENABLED": "false",
        "OPERATOR_NODE__STORE__STORE_DURATION": "3600",
        "OPERATOR_NODE__NODE__DATA_DIR": "/srv/chunks",
        "OPERATOR_NODE_RS_BACKEND": "scalar",  # another prefix: not a config key
    }
    config = load_config(path, environ=env)
    assert config.api.port == 9000
    assert config.chain.quorums == (0, 1, 2)
    assert config.metrics.enabled is False
    assert config.store.store_duration == 3600.0
    assert config.node.data_dir == Path("/srv/chunks")


def test_config_relative_paths_resolve_against_config_dir(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.toml",
        {"node": {"data_dir": "chunks"}, "keys": {"bls_keystore": "keys/op.bls.key.json"}},
    )
    config = load_config(path, environ={})
    assert config.node.data_dir == tmp_path / "chunks"
    assert config.keys.bls_keystore == tmp_path / "keys" / "op.bls.key.json"
    assert config.keys.ecdsa_keystore is None


def test_config_collects_every_problem_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", {"api": {"port": 0, "host": 5}, "limits": {"x": 1}})
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert "api.port" in message and "api.host" in message and "limits.x" in message
    assert str(path) in message


BAD_CONFIGS: list[tuple[str, str, dict[str, str], str]] = [
    ("syntax", "[api\nport = 1\n", {}, "TOML syntax error"),
    ("unknown_key", "[api]\nprot = 9000\n", {}, "api.prot"),
    ("unknown_section", "[apis]\nport = 9000\n", {}, "[apis]"),
    ("wrong_type", '[api]\nport = "9000"\n', {}, "api.port must be an integer"),
    ("bool_for_int", "[limits]\nmax_inflight = true\n", {}, "limits.max_inflight"),
    ("bad_proxy", '[api]\ntrusted_proxies = ["10.0.0.0/33"]\n', {}, "api.trusted_proxies"),
    ("port_zero", "[api]\nport = 0\n", {}, "api.port must be at least 1"),
    ("port_too_big", "[metrics]\nport = 70000\n", {}, "metrics.port must be at most 65535"),
    ("too_many_shards", "[store]\nshards = 17\n", {}, "store.shards must be at most 16"),
    ("bad_choice", '[node]\nlog_level = "loud"\n', {}, "node.log_level must be one of"),
    ("bad_address", '[chain]\nregistry_coordinator = "0x12"\n', {}, "chain.registry_coordinator"),
    ("same_ports", "[api]\nport = 9100\n[metrics]\nport = 9100\n", {}, "metrics.port must differ"),
    ("shard_below_request", "[store]\nmax_size = 33554432\n", {}, "(16777216 bytes) must be at"),
    ("static_empty", '[dispersal]\ndisperser_source = "static"\n', {}, "no disperser could"),
    (
        "list_ignored_by_chain",
        '[dispersal]\nallowed_dispersers = ["0x' + "ab" * 20 + '"]\n',
        {},
        'disperser_source to "both" or "static"',
    ),
    ("bad_source", '[dispersal]\ndisperser_source = "dns"\n', {}, "one of static, chain, both"),
    ("old_allowlist_key", "[dispersal]\nuse_chain_allowlist = true\n", {}, "unknown key"),
    ("env_bad_value", "", {"OPERATOR_NODE__API__PORT": "nine"}, "OPERATOR_NODE__API__PORT"),
    ("env_unknown_key", "", {"OPERATOR_NODE__API__PROT": "1"}, "api.prot"),
    ("env_bad_section", "", {"OPERATOR_NODE__NOPE__PORT": "1"}, "OPERATOR_NODE__NOPE__PORT"),
    ("missing_file", None, {}, "config file not found"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("case", "text", "env", "expected"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS]
)
def test_config_check_rejects_bad_config_with_exit_2(
    tmp_path: Path, case: str, text: str | None, env: dict[str, str], expected: str
) -> None:
    path = tmp_path / f"{case}.toml"
    if text is not None:
        path.write_text(text)
    result = run_cli("config", "check", "--config", str(path), env=env)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    # Each problem names where it came from: the file, or the environment variable.
    assert str(path) in result.stderr or "environment OPERATOR_NODE__" in result.stderr
    assert result.stdout == ""


def test_config_run_refuses_bad_config_before_starting(tmp_path: Path) -> None:
    sections = node_config(tmp_path, api={"port": 70000})
    path = write_config(tmp_path / "bad.toml", sections)
    result = run_cli("run", "--config", str(path), timeout=30)
    assert result.returncode == 2
    assert "api.port must be at most 65535" in result.stderr
    assert not (tmp_path / "data").exists(), "nothing is created for a config that does not load"


def test_config_check_accepts_good_config(tmp_path: Path) -> None:
    path = write_config(tmp_path / "ok.toml", node_config(tmp_path))
    result = run_cli("config", "check", "--config", str(path))
    assert result.returncode == 0
    assert "configuration is valid" in result.stdout


def test_config_every_section_is_a_frozen_dataclass() -> None:
    for section in dataclasses.fields(Config):
        section_type = typing.get_type_hints(Config)[section.name]
        instance = section_type()
        first = dataclasses.fields(instance)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(instance, first, None)
