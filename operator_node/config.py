"""The node's configuration: TOML read with ``tomllib`` into frozen, typed objects.

One pass reads the file, applies environment overrides (``OPERATOR_NODE__<SECTION>__<KEY>``),
checks every key's type and range and reports *all* problems at once, each naming the file (or
the environment variable) and the dotted key. Secrets never live here: keys and passwords are
paths to files.

Relative paths in the file are resolved against the directory of the file, so a config works the
same wherever the daemon is started from.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from operator_node.errors import ConfigError
from operator_node.sockets import OperatorSocket, SocketError, parse_socket

ENV_PREFIX = "OPERATOR_NODE__"
_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HTTP_URL_RE = re.compile(r"^https?://[^/?#\s]+")
_LOG_LEVELS = ("debug", "info", "warning", "error")
_MiB = 1024 * 1024
# Where the allowed dispersers come from: the list in the config, the service manager's
# isDisperser(address), or either.
DISPERSER_SOURCES = ("static", "chain", "both")
# protocol.encoding.FINGERPRINT_POLICIES, written out: the config does not import the codec.
FINGERPRINT_POLICIES = ("required", "accepted")
_GiB = 1024 * _MiB


def _key(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] = (),
    kind: str = "",
) -> Any:
    """A config key with its default and constraints (kept in the dataclass field's metadata)."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "kind": kind}
    if isinstance(default, list | tuple):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NodeSection:
    """``[node]``: identity, data location and logging."""

    name: str = _key("operator-node")
    avs_name: str = _key("data-availability")
    data_dir: Path = _key(Path("data"))
    log_level: str = _key("info", choices=_LOG_LEVELS)
    log_format: str = _key("auto", choices=("auto", "json", "console"))


@dataclass(frozen=True)
class ApiSection:
    """``[api]``: the node's HTTP ports, as EigenDA separates them: StoreChunks on
    ``dispersal_port`` (to be opened to the disperser alone), retrieval and the /eigen node API on
    ``port`` (public). ``dispersal_port = 0`` (or equal to ``port``) serves everything on
    ``port``, as the node did before the ports were separated."""

    host: str = _key("0.0.0.0")  # noqa: S104 - a node must be reachable by dispersers
    port: int = _key(32005, lo=1, hi=65535)
    dispersal_port: int = _key(32004, lo=0, hi=65535)
    socket: str = _key("", kind="socket")
    shutdown_grace: float = _key(10.0, lo=0.0, hi=600.0)
    trusted_proxies: tuple[str, ...] = _key((), kind="network")

    @property
    def listen_dispersal_port(self) -> int:
        """The port StoreChunks is served on: ``dispersal_port``, or ``port`` when it is 0."""
        return self.dispersal_port or self.port

    @property
    def separate_ports(self) -> bool:
        """Whether StoreChunks has a listener of its own."""
        return self.listen_dispersal_port != self.port


@dataclass(frozen=True)
class MetricsSection:
    """``[metrics]``: Prometheus exposition on its own port."""

    enabled: bool = _key(True)
    host: str = _key("0.0.0.0")  # noqa: S104 - scraped from outside the host
    port: int = _key(9091, lo=1, hi=65535)


@dataclass(frozen=True)
class KeysSection:
    """``[keys]``: keystore and password *file paths*; never the secrets themselves."""

    bls_keystore: Path | None = _key(None)
    bls_password_file: Path | None = _key(None)
    ecdsa_keystore: Path | None = _key(None)
    ecdsa_password_file: Path | None = _key(None)
    allow_insecure_permissions: bool = _key(False)


@dataclass(frozen=True)
class ChainSection:
    """``[chain]``: the RPC endpoint (and fallbacks), the two addresses everything else is
    discovered from, and how often the node reads the chain: its registration and stakes every
    ``refresh_interval`` seconds, the head and confirmed batches every ``watch_interval`` (0: no
    batch watcher), from ``watch_from_block`` (-1: the head at start). How ``register`` joins
    quorums: ``registration`` "auto" (each quorum as the chain says: M2 or operator set), "m2" or
    "operator_sets" (insist on one way); ``allocation_delay`` (blocks; set once, when the
    operator registers with EigenLayer) and ``allocation_magnitudes`` (out of 1e18, one per
    quorum in ``quorums``; used for quorums that count slashable stake)."""

    rpc_url: str = _key("")
    chain_id: int = _key(31337, lo=1)
    registry_coordinator: str = _key("", kind="address")
    operator_state_retriever: str = _key("", kind="address")
    confirmations: int = _key(1, lo=0, hi=1000)
    eigenlayer_core: str = _key("auto", choices=("auto", "slashing", "m2"))
    quorums: tuple[int, ...] = _key((0,), lo=0, hi=191)
    update_socket: bool = _key(False)
    max_fee_gwei: float = _key(100.0, lo=0.0)
    tx_timeout: float = _key(120.0, lo=1.0, hi=3600.0)
    rpc_timeout: float = _key(10.0, lo=0.1, hi=600.0)
    events_from_block: int = _key(0, lo=0)
    events_block_range: int = _key(10_000, lo=1, hi=1_000_000)
    rpc_fallback_urls: tuple[str, ...] = _key((), kind="http_url")
    rpc_primary_retry_after: float = _key(300.0, lo=1.0, hi=86_400.0)
    refresh_interval: float = _key(60.0, lo=0.1, hi=86_400.0)
    watch_interval: float = _key(30.0, lo=0.0, hi=3600.0)
    watch_from_block: int = _key(-1, lo=-1)
    # operator_sets.REGISTRATION_MODES, written out: the config does not import web3.
    registration: str = _key("auto", choices=("auto", "m2", "operator_sets"))
    allocation_delay: int = _key(0, lo=0, hi=2**32 - 1)
    allocation_magnitudes: tuple[int, ...] = _key((), lo=0, hi=10**18)


@dataclass(frozen=True)
class StoreSection:
    """``[store]``: how long chunks are kept and how much disk the store may use."""

    store_duration: float = _key(1_213_200.0, lo=1.0)
    max_size: int = _key(64 * _GiB, lo=16 * _MiB)
    expiry_interval: float = _key(180.0, lo=0.1, hi=86_400.0)
    # hi is store.shards.MAX_SHARDS, written out: importing the store here costs ~150 ms.
    shards: int = _key(2, lo=1, hi=16)


@dataclass(frozen=True)
class LimitsSection:
    """``[limits]``: bounds that keep memory flat under load."""

    max_request_bytes: int = _key(64 * _MiB, lo=1024, hi=4 * _GiB)
    max_header_bytes: int = _key(1 * _MiB, lo=64 * 1024, hi=256 * _MiB)
    max_inflight: int = _key(8, lo=1, hi=10_000)
    max_pending_heads: int = _key(64, lo=1, hi=100_000)
    max_pending_heads_per_client: int = _key(8, lo=1, hi=100_000)
    head_timeout: float = _key(5.0, lo=0.1, hi=600.0)
    body_timeout: float = _key(10.0, lo=0.1, hi=3600.0)
    body_min_rate: int = _key(1 * _MiB, lo=1024)


@dataclass(frozen=True)
class DispersalSection:
    """``[dispersal]``: who may push chunks, the replay window, hashing threads, rate limit, and
    the AVS's limits on a blob: its encoding overhead (in units of 1/gamma; 0 for none), its
    size, and the smallest confirmation - adversary margin of its quorums."""

    allowed_dispersers: tuple[str, ...] = _key((), kind="address")
    disperser_source: str = _key("chain", choices=DISPERSER_SOURCES)
    replay_window: float = _key(300.0, lo=1.0, hi=3600.0)
    hash_threads: int = _key(2, lo=1, hi=64)
    rate_limit: float = _key(0.0, lo=0.0)
    burst: int = _key(16, lo=1)
    max_overhead: float = _key(2.0, lo=0.0)
    # The AVS's limits (protocol.limits); hi is the wire's u32 data length.
    max_blob_size: int = _key(16 * _MiB, lo=1, hi=(1 << 32) - 1)
    min_margin: int = _key(20, lo=10, hi=100)
    # Encoding validity (protocol.encoding): "required" refuses GF(2^8) blobs without FP-v1.
    fingerprint: str = _key("required", choices=FINGERPRINT_POLICIES)


@dataclass(frozen=True)
class RepairSection:
    """``[repair]``: rebuilding from peers the confirmed batches this node should hold and
    does not (after downtime, a lost disk); see ``operator_node.repair``. ``lookback_blocks``:
    how far back from the head at start to look for confirmed batches (default: 14 days at
    12 s a block); ``rate``: the most bytes a second fetched from peers, on average;
    ``audit_rate``: the most stored bytes a second the audit reads again, and ``audit_interval``
    its rest between passes."""

    enabled: bool = _key(True)
    interval: float = _key(60.0, lo=0.1, hi=86_400.0)
    lookback_blocks: int = _key(100_800, lo=0)
    rate: float = _key(float(16 * _MiB), lo=1024.0)
    fanout: int = _key(2, lo=1, hi=256)
    timeout: float = _key(10.0, lo=0.1, hi=600.0)
    audit: bool = _key(True)
    audit_rate: float = _key(float(8 * _MiB), lo=1024.0)
    audit_interval: float = _key(3600.0, lo=0.1, hi=7 * 86_400.0)


PAYMENT_MODES = ("enforce", "observe", "off")


@dataclass(frozen=True)
class PaymentsSection:
    """``[payments]``: metering each blob against its account's reservation or on-demand
    deposit in the AVS's payment vault (``operator_node.payments``).

    ``mode``: "enforce" refuses what the vault does not pay for; "observe" meters and counts
    but refuses nothing (for a rollout); "off" does neither. A node whose AVS names no vault
    meters nothing, whatever the mode. ``bucket_window``: seconds of an account's rate its
    bucket holds (EigenDA's validators: 120, twice the client's 60, for the latency between
    them). ``timestamp_window``: how far a blob's payment timestamp may be from this node's
    clock."""

    mode: str = _key("enforce", choices=PAYMENT_MODES)
    payment_vault: str = _key("", kind="address")
    bucket_window: float = _key(120.0, lo=1.0, hi=86400.0)
    overfill: str = _key("once", choices=("once", "never"))
    refresh_interval: float = _key(30.0, lo=0.1, hi=3600.0)
    timestamp_window: float = _key(300.0, lo=1.0, hi=3600.0)
    on_demand_slack: float = _key(1.1, lo=1.0, hi=10.0)
    max_buckets: int = _key(65536, lo=16)
    max_charged: int = _key(100_000, lo=16)


@dataclass(frozen=True)
class RetrievalSection:
    """``[retrieval]``: the per-client rate limit on the public retrieval API."""

    rate_limit: float = _key(20.0, lo=0.0)
    burst: int = _key(40, lo=1)


@dataclass(frozen=True)
class Config:
    """The whole configuration. Build it with :func:`load_config`."""

    node: NodeSection = field(default_factory=NodeSection)
    api: ApiSection = field(default_factory=ApiSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    keys: KeysSection = field(default_factory=KeysSection)
    chain: ChainSection = field(default_factory=ChainSection)
    store: StoreSection = field(default_factory=StoreSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    dispersal: DispersalSection = field(default_factory=DispersalSection)
    retrieval: RetrievalSection = field(default_factory=RetrievalSection)
    payments: PaymentsSection = field(default_factory=PaymentsSection)
    repair: RepairSection = field(default_factory=RepairSection)

    @property
    def advertised_socket(self) -> str:
        """The socket registered on-chain: ``[api] socket`` or, if empty, built from ``[api]``:
        ``host:dispersal_port;port`` (``host:port`` when both are the same port)."""
        if self.api.socket:
            return self.api.socket
        api = self.api
        return str(OperatorSocket(api.host, api.listen_dispersal_port, api.port))


_SECTION_TYPES = typing.get_type_hints(Config)


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment, validate and freeze the configuration.

    Raises :class:`ConfigError` listing every problem found, each naming its source and key.
    """
    environ = os.environ if environ is None else environ
    raw = _read_toml(path)
    errors: list[str] = []
    overrides = _env_overrides(environ, errors)
    sections: dict[str, Any] = {}
    for name in raw.keys() - _SECTION_TYPES.keys():
        errors.append(f"{path}: unknown section [{name}]")
    for name, section_type in _SECTION_TYPES.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            errors.append(f"{path}: [{name}] must be a table")
            table = {}
        sections[name] = _build_section(
            name, section_type, table, overrides.get(name, {}), path, errors
        )
    config = Config(**sections)
    _check_cross_fields(config, path, errors)
    if errors:
        raise ConfigError("\n  ".join(["invalid configuration:", *errors]), source=str(path))
    return config


def peek_log_format(path: Path, environ: Mapping[str, str] | None = None) -> str:
    """``[node] log_format`` as far as it can be read, else "auto"; never raises.

    For reporting a configuration that :func:`load_config` refused in the format its operator
    asked for (JSON lines for a log collector): the environment override first, then the file,
    each used only when it is one of the valid choices.
    """
    environ = os.environ if environ is None else environ
    choices = _field_choices(NodeSection, "log_format")
    candidate = environ.get(f"{ENV_PREFIX}NODE__LOG_FORMAT", "").strip().lower()
    if candidate in choices:
        return candidate
    try:
        node = _read_toml(path).get("node", {})
    except ConfigError:
        return "auto"
    found = node.get("log_format") if isinstance(node, dict) else None
    return found if isinstance(found, str) and found in choices else "auto"


def _field_choices(section_type: type[Any], key: str) -> tuple[str, ...]:
    choices: tuple[str, ...] = next(
        f.metadata["choices"] for f in dataclasses.fields(section_type) if f.name == key
    )
    return choices


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found", source=str(path)) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file", source=str(path)) from None
    except PermissionError:
        raise ConfigError(
            f"{path}: cannot read config file (permission denied)", source=str(path)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}", source=str(path)) from None


def _env_overrides(environ: Mapping[str, str], errors: list[str]) -> dict[str, dict[str, str]]:
    """``OPERATOR_NODE__API__PORT=9000`` → ``{"api": {"port": "9000"}}`` (values still text)."""
    overrides: dict[str, dict[str, str]] = {}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX):
            continue
        parts = var[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or parts[0] not in _SECTION_TYPES:
            errors.append(f"environment {var}: not a known OPERATOR_NODE__<SECTION>__<KEY>")
            continue
        overrides.setdefault(parts[0], {})[parts[1]] = value
    return overrides


def _build_section(
    name: str,
    section_type: type[Any],
    table: dict[str, Any],
    env: dict[str, str],
    path: Path,
    errors: list[str],
) -> Any:
    fields = {f.name: f for f in dataclasses.fields(section_type)}
    hints = typing.get_type_hints(section_type)
    for key in table.keys() - fields.keys():
        errors.append(f"{path}: unknown key {name}.{key}")
    for key in env.keys() - fields.keys():
        errors.append(
            f"environment {ENV_PREFIX}{name.upper()}__{key.upper()}: unknown key {name}.{key}"
        )
    values: dict[str, Any] = {}
    for key, f in fields.items():
        from_env = key in env
        if from_env:
            source = f"environment {ENV_PREFIX}{name.upper()}__{key.upper()}"
            raw_value: Any = _parse_env_value(env[key], hints[key])
        elif key in table:
            source, raw_value = str(path), table[key]
        elif isinstance(f.default, Path) and not f.default.is_absolute():
            values[key] = (path.parent / f.default).resolve()
            continue
        else:
            continue
        try:
            values[key] = _coerce(raw_value, hints[key], f.metadata, path.parent, from_env)
        except ValueError as exc:
            errors.append(f"{source}: {name}.{key} {exc}")
    return section_type(**values)


def _parse_env_value(text: str, hint: Any) -> Any:
    """Environment values are text; lists are comma-separated, everything else one scalar."""
    if typing.get_origin(hint) is tuple:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _coerce(value: Any, hint: Any, meta: Mapping[str, Any], base: Path, from_env: bool) -> Any:
    """Check (and, for text from the environment, convert) one value; raise ValueError if bad."""
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, got {_type_name(value)}")
        item_hint = typing.get_args(hint)[0]
        return tuple(_coerce(item, item_hint, meta, base, from_env) for item in value)
    if _is_optional_path(hint):
        return None if value == "" else _coerce(value, Path, meta, base, from_env)
    scalar = _coerce_scalar(value, hint, from_env)
    _check_constraints(scalar, meta)
    if hint is Path:
        return scalar if scalar.is_absolute() else (base / scalar).resolve()
    return scalar


def _coerce_scalar(value: Any, hint: Any, from_env: bool) -> Any:
    if hint is bool:
        if from_env:
            return _parse_bool(value)
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {_type_name(value)}")
        return value
    if hint is int:
        if from_env:
            return _parse_number(value, int)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, got {_type_name(value)}")
        return value
    if hint is float:
        if from_env:
            return _parse_number(value, float)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, got {_type_name(value)}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_type_name(value)}")
    return Path(value) if hint is Path else value


def _check_constraints(value: Any, meta: Mapping[str, Any]) -> None:
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if lo is not None and value < lo:
        raise ValueError(f"must be at least {lo}, got {value}")
    if hi is not None and value > hi:
        raise ValueError(f"must be at most {hi}, got {value}")
    if choices and value not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}; got {value!r}")
    if meta.get("kind") == "address" and value != "" and not _ADDRESS_RE.match(value):
        raise ValueError(f"must be a 0x-prefixed 20-byte hex address, got {value!r}")
    if meta.get("kind") == "socket" and value != "":
        try:
            parse_socket(value)
        except SocketError as exc:
            raise ValueError(f"is not a socket: {exc}") from None
    if meta.get("kind") == "http_url" and not _HTTP_URL_RE.match(value):
        # Not quoted: an RPC URL may hold an API key.
        raise ValueError("must be an http:// or https:// URL")
    if meta.get("kind") == "network":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(
                f"must be an IP address or network (e.g. 10.0.0.0/8), got {value!r}"
            ) from None


def _check_cross_fields(config: Config, path: Path, errors: list[str]) -> None:
    _check_ports(config, path, errors)
    if config.chain.rpc_url and not config.chain.registry_coordinator:
        errors.append(f"{path}: chain.registry_coordinator is required when chain.rpc_url is set")
    _check_disperser_source(config.dispersal, path, errors)
    _check_request_limit(config, path, errors)
    magnitudes, quorums = config.chain.allocation_magnitudes, config.chain.quorums
    if magnitudes and len(magnitudes) != len(quorums):
        errors.append(
            f"{path}: chain.allocation_magnitudes has {len(magnitudes)} value(s) and "
            f"chain.quorums {len(quorums)}: give one magnitude per quorum (0 where none)"
        )
    shard_size = config.store.max_size // config.store.shards
    if shard_size < config.limits.max_request_bytes:
        # A batch goes whole into one shard: one this large could never be stored.
        errors.append(
            f"{path}: store.max_size / store.shards ({shard_size} bytes) must be at least "
            f"limits.max_request_bytes ({config.limits.max_request_bytes}): raise the first or "
            "lower the second"
        )


def _check_request_limit(config: Config, path: Path, errors: list[str]) -> None:
    # Any operator, however small its stake, can be sent a whole blob: with k = 1 its one chunk
    # is the blob. (What its stake adds is checked once the chain says what the stake is.) This
    # is protocol.limits.smallest_request_limit, written out: importing the protocol costs ~0.5 s.
    quorums = len(config.chain.quorums)
    need = config.dispersal.max_blob_size + 512 + 2 + 64 + quorums * 2 * 16 * 32
    if config.limits.max_request_bytes < need:
        errors.append(
            f"{path}: limits.max_request_bytes ({config.limits.max_request_bytes}) cannot hold "
            f"one chunk of a blob of dispersal.max_blob_size ({config.dispersal.max_blob_size} "
            f"bytes; with k = 1 the chunk is the whole blob): it needs at least {need}; raise "
            "the first or lower the second"
        )


def _check_ports(config: Config, path: Path, errors: list[str]) -> None:
    api = config.api
    if config.metrics.enabled and config.metrics.port in (api.port, api.listen_dispersal_port):
        errors.append(
            f"{path}: metrics.port must differ from api.port ({api.port}) and "
            f"api.dispersal_port ({api.listen_dispersal_port})"
        )
    if not api.socket or not api.separate_ports:
        return
    try:
        onchain = parse_socket(api.socket)
    except SocketError:
        return  # already reported against api.socket
    if onchain.dispersal_port == onchain.retrieval_port:
        # One port on chain cannot reach two listeners: dispersers would find nothing there.
        errors.append(
            f"{path}: api.socket {api.socket!r} names one port for dispersal and retrieval, but "
            f"the node serves StoreChunks on api.dispersal_port ({api.dispersal_port}) and "
            f"retrieval on api.port ({api.port}): write the socket as "
            f'"{onchain.host}:{api.dispersal_port};{api.port}" and put it on chain '
            "(`operator-node update-socket`, or chain.update_socket = true), or set "
            "api.dispersal_port = 0 to serve both on one port"
        )


def _check_disperser_source(dispersal: DispersalSection, path: Path, errors: list[str]) -> None:
    source, listed = dispersal.disperser_source, bool(dispersal.allowed_dispersers)
    if source == "static" and not listed:
        errors.append(
            f'{path}: dispersal.disperser_source is "static" but dispersal.allowed_dispersers '
            "is empty: no disperser could push chunks; list their addresses"
        )
    elif source == "chain" and listed:
        # The list would be ignored: say so rather than refuse its dispersers without a word.
        errors.append(
            f"{path}: dispersal.allowed_dispersers is set but dispersal.disperser_source is "
            '"chain", which ignores it: set disperser_source to "both" or "static"'
        )


def _is_optional_path(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) and set(typing.get_args(hint)) == {Path, type(None)}


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def _parse_number(text: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(text.strip().replace("_", ""))
    except ValueError:
        raise ValueError(
            f"must be {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None


def _type_name(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
