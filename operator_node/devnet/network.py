"""A local devnet: anvil, the contracts, N registered operators running as real node daemons.

Used by ``operator-node devnet`` and by the end-to-end tests, so what is demonstrated is what is
tested. Everything lives under one directory: per operator its keys (throwaway keystores with a
light scrypt cost, so four nodes start in seconds), its config, its data and its log.

Accounts are anvil's funded development keys: index 0 deploys and owns the contracts, 1..N are
the operators, N+1 is the disperser. Stake is made as on EigenLayer: each operator deposits its
stake (in whole tokens of the devnet's ERC20) into the strategy quorum 0 weighs, then registers as
an operator (delegated to itself) and with the AVS, whose quorum requires one token at least.

A scale devnet (:meth:`Devnet.scale`) adds operators that are registered the same way but run no
node (``idle_stakes``; :mod:`.bulk` registers hundreds in seconds): they hold stake and refuse
every connection, so dispersal and retrieval must succeed from the running nodes alone. Stakes
then follow :class:`~.stakes.StakeProfile`, the running nodes holding the top ranks.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from operator_node.chain.client import ChainConnection
from operator_node.chain.deploy import Deployment, QuorumSpec, deploy_contracts, deposit
from operator_node.chain.registration import OperatorSetOptions, ensure_registered
from operator_node.chain.rpc import connect
from operator_node.config import ChainSection
from operator_node.crypto.bls import BlsKeyPair
from operator_node.crypto.keystore import keystore_path, save_bls_keystore
from operator_node.devnet.anvil import DEV_PRIVATE_KEYS, Anvil, AnvilError, mine
from operator_node.devnet.bulk import (
    DEFAULT_SEED,
    IdleOperator,
    SilentPorts,
    derive_idle_operator,
    register_idle_operators,
)
from operator_node.devnet.payments import DEVNET_PARAMS, PayingAccount, set_up_payments
from operator_node.devnet.ports import free_port
from operator_node.devnet.stakes import StakeProfile
from operator_node.errors import OperatorNodeError
from operator_node.protocol.coding import DEFAULT_MAX_OVERHEAD
from operator_node.protocol.limits import (
    DEFAULT_MAX_BLOB_SIZE,
    DEFAULT_MIN_MARGIN,
    MiB,
    QuorumShare,
    largest_share,
)

DEVNET_SCRYPT_N = 1 << 12
TomlValue = str | int | float | bool | list[int] | list[str]
QUORUM = 0
REGISTRATIONS = ("m2", "operator_sets")
# Operator-set devnets: quorum 0 counts slashable stake; each operator allocates half of its
# shares to it, with an allocation delay of a few blocks (mined by the devnet while it waits).
DEVNET_MAGNITUDE = 10**18 // 2
DEVNET_ALLOCATION_DELAY = 5
TOKEN = 10**18  # one whole token of stake (the devnet's ERC20 has 18 decimals)
MAX_NODES = len(DEV_PRIVATE_KEYS) - 2  # anvil's funded keys less the deployer and the disperser
_QUORUM_CAP = 64  # the quorum's operator cap, raised to the operator count above it
# [limits] max_request_bytes's default, which a node keeps unless its stake needs more.
DEFAULT_REQUEST_LIMIT = 64 * MiB


class DevnetError(OperatorNodeError):
    """The devnet could not be brought up (a node did not start, registration failed, ...)."""


@dataclass
class DevnetOperator:
    """One operator of the devnet and its node process."""

    index: int
    stake: int  # whole tokens deposited
    keypair: BlsKeyPair
    account: LocalAccount
    api_port: int
    metrics_port: int
    home: Path
    dispersal_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """``operator-<index>``."""
        return f"operator-{self.index}"

    @property
    def socket(self) -> str:
        """Where its node listens, as registered on chain: ``127.0.0.1:dispersal;api``."""
        return f"127.0.0.1:{self.dispersal_port};{self.api_port}"

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:<api port>``: retrieval and the /eigen node API."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def dispersal_url(self) -> str:
        """``http://127.0.0.1:<dispersal port>``: StoreChunks."""
        return f"http://127.0.0.1:{self.dispersal_port}"

    @property
    def config_path(self) -> Path:
        """Its node's config file."""
        return self.home / "node.toml"

    @property
    def keystore_path(self) -> Path:
        """Its BLS keystore (a throwaway one, with a light scrypt cost)."""
        return keystore_path(self.home / "keys", self.name, "bls")

    @property
    def password_path(self) -> Path:
        """The file holding its keystore's password."""
        return self.home / "keys" / "bls.password"

    @property
    def log_path(self) -> Path:
        """Its node's log (JSON lines)."""
        return self.home / "node.log"


@dataclass
class Devnet:
    """Bring up with :meth:`start`, tear down with :meth:`stop` (also as an async context).

    ``stakes`` are the running nodes' (whole tokens, one node each), ``idle_stakes`` those of
    the operators registered without a node (their keys derived from ``idle_seed``).
    ``registration`` "m2" makes quorum 0 an M2 quorum, joined at the registry coordinator;
    "operator_sets" deploys the coordinator of an operator-set-only AVS
    (SlashingRegistryCoordinator) and makes quorum 0 an operator set counting slashable stake,
    joined through the AllocationManager after allocating :data:`DEVNET_MAGNITUDE` (so each
    operator's stake in it is half its deposit).
    """

    root: Path
    stakes: Sequence[int] = (10, 20, 30, 40)
    idle_stakes: Sequence[int] = ()
    idle_seed: bytes = DEFAULT_SEED
    store_max_size: int = 1 << 30
    max_blob_size: int = DEFAULT_MAX_BLOB_SIZE
    registration: str = "m2"
    log: Callable[[str], None] = lambda message: None
    anvil: Anvil = field(default_factory=lambda: Anvil(port=free_port()))
    operators: list[DevnetOperator] = field(default_factory=list)
    idle_operators: list[IdleOperator] = field(default_factory=list)
    paying_accounts: list[PayingAccount] = field(default_factory=list)
    # Every node's [payments] and [repair] keys (e.g. a short bucket_window for a test).
    payments: Mapping[str, TomlValue] = field(default_factory=dict)
    repair: Mapping[str, TomlValue] = field(default_factory=dict)
    deployment: Deployment | None = None
    timings: dict[str, float] = field(default_factory=dict, init=False)
    _silent_ports: SilentPorts | None = field(default=None, init=False, repr=False)

    @classmethod
    def scale(
        cls,
        root: Path,
        *,
        operators: int = 250,
        nodes: int = 4,
        profile: StakeProfile | None = None,
        **options: Any,
    ) -> Devnet:
        """A devnet of ``operators`` registered operators of which ``nodes`` run a node: stakes
        from ``profile`` (default :class:`StakeProfile`, S_i ∝ 1/i^1.5), the nodes holding the
        top ranks (in ascending order of stake, as the small devnet's). ``options`` are the
        other fields. Raises :class:`DevnetError` unless 1 <= nodes <= min(operators, MAX_NODES).
        """
        if not 1 <= nodes <= min(operators, MAX_NODES):
            raise DevnetError(
                f"need 1 <= nodes <= operators and nodes <= {MAX_NODES}, "
                f"got {nodes} nodes of {operators} operators"
            )
        node_stakes, idle_stakes = (profile or StakeProfile()).split(operators, nodes)
        return cls(root, stakes=sorted(node_stakes), idle_stakes=idle_stakes, **options)

    @property
    def operator_count(self) -> int:
        """Registered operators in all, running a node or not."""
        return len(self.stakes) + len(self.idle_stakes)

    @property
    def node_share(self) -> float:
        """The running nodes' fraction of all stake (0..1)."""
        total = sum(self.stakes) + sum(self.idle_stakes)
        return sum(self.stakes) / total if total else 0.0

    @property
    def disperser(self) -> LocalAccount:
        """The account allowed to disperse (and to confirm batches)."""
        account: LocalAccount = Account.from_key(DEV_PRIVATE_KEYS[len(self.stakes) + 1])
        return account

    @property
    def owner(self) -> LocalAccount:
        """The AVS's owner (the deployer): it sets reservations and prices."""
        account: LocalAccount = Account.from_key(DEV_PRIVATE_KEYS[0])
        return account

    @property
    def payer(self) -> LocalAccount | None:
        """The account with a reservation, which pays for the devnet's dispersals (None
        without a payment vault)."""
        for account in self.paying_accounts:
            if account.name == "reserved":
                return account.account
        return None

    def paying(self, name: str) -> LocalAccount:
        """The paying account ``name`` ("reserved" or "on-demand") with its key."""
        for account in self.paying_accounts:
            if account.name == name:
                return account.account
        raise DevnetError(f"this devnet has no paying account {name!r}")

    async def __aenter__(self) -> Devnet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    async def start(self) -> None:
        """Start anvil, deploy, create keys, register every operator (the idle ones in bulk)
        and start the nodes. Seconds per phase go to :attr:`timings`."""
        if not 1 <= len(self.stakes) <= MAX_NODES:
            raise DevnetError(f"between 1 and {MAX_NODES} running nodes, not {len(self.stakes)}")
        if self.registration not in REGISTRATIONS:
            raise DevnetError(
                f"registration must be one of {REGISTRATIONS}, not {self.registration!r}"
            )
        if self.registration != "m2" and self.idle_stakes:
            raise DevnetError("operators without a node register the M2 way only")
        self.root.mkdir(parents=True, exist_ok=True)
        self.log(f"starting anvil on {self.anvil.host}:{self.anvil.port}")
        try:
            self.anvil.start()
        except AnvilError as exc:
            raise DevnetError(f"{exc} (run `make setup` to install anvil with npm ci)") from exc
        # The idle operators' ports first: bound, the nodes' free_port() cannot pick them.
        self._silent_ports = SilentPorts(len(self.idle_stakes))
        self.operators = [self._new_operator(i, stake) for i, stake in enumerate(self.stakes)]
        with self._timed("deploy"):
            await self._deploy()
        with self._timed("register_nodes"):
            for operator in self.operators:
                self._write_node_files(operator)
                await self._register(operator)
        if self.idle_stakes:
            with self._timed("register_idle"):
                await self._register_idle()
        with self._timed("start_nodes"):
            for operator in self.operators:
                self.start_node(operator)
            for operator in self.operators:
                self.wait_ready(operator)
        (self.root / "devnet.json").write_text(json.dumps(self.describe(), indent=2))

    @contextmanager
    def _timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[phase] = time.perf_counter() - started

    def chain_section(self) -> ChainSection:
        """The ``[chain]`` section every devnet node and client uses."""
        assert self.deployment is not None, "start() first"
        return ChainSection(
            rpc_url=self.anvil.rpc_url,
            chain_id=self.anvil.chain_id,
            registry_coordinator=self.deployment.registry_coordinator,
            operator_state_retriever=self.deployment.operator_state_retriever,
            quorums=(QUORUM,),
            tx_timeout=30.0,
        )

    def connect(self, account: LocalAccount | None = None) -> ChainConnection:
        """A chain connection (with ``account`` for transactions)."""
        return ChainConnection(self.chain_section(), metrics=None, account=account)

    async def fetch_operator_state(self) -> tuple[int, dict[int, list[tuple[bytes, int]]]]:
        """The chain head and the quorum's (operator id, stake) pairs there, ordered by id."""
        connection = self.connect()
        try:
            reader = await connection.get_reader()
            block = await reader.get_current_block()
            raw = await reader.get_operator_state([QUORUM], block)
        finally:
            await connection.close()
        return block, {QUORUM: sorted((op.operator_id, op.stake) for op in raw[QUORUM])}

    def start_node(self, operator: DevnetOperator) -> None:
        """Start (or restart) an operator's node daemon; does not wait for it."""
        with operator.log_path.open("ab") as log:
            operator.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "operator_node",
                    "run",
                    "--config",
                    str(operator.config_path),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "OPERATOR_NODE__NODE__LOG_FORMAT": "json"},
            )

    def wait_ready(self, operator: DevnetOperator, timeout: float = 60.0) -> None:
        """Wait until the operator's node answers /eigen/node and its dispersal service is past
        start-up (Up, or Down for a reason of its own); raises DevnetError otherwise."""
        deadline = time.monotonic() + timeout
        self._wait_answering(operator, deadline)
        url = f"http://127.0.0.1:{operator.api_port}/eigen/node/services/dispersal/health"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status != 206:  # 206: Initializing
                        return
            except urllib.error.HTTPError:
                return  # 503: Down, for a reason the node states
            except OSError:
                pass
            time.sleep(0.05)
        raise DevnetError(f"{operator.name}'s dispersal did not start within {timeout:g} s")

    def _wait_answering(self, operator: DevnetOperator, deadline: float) -> None:
        url = f"http://127.0.0.1:{operator.api_port}/eigen/node"
        while time.monotonic() < deadline:
            if operator.process is not None and operator.process.poll() is not None:
                tail = operator.log_path.read_text(errors="replace")[-2000:]
                raise DevnetError(
                    f"{operator.name} exited with {operator.process.returncode}:\n{tail}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise DevnetError(f"{operator.name} did not answer on {url} in time")

    def stop_node(self, operator: DevnetOperator, signum: int = signal.SIGTERM) -> int | None:
        """Stop one node (SIGTERM by default, SIGKILL to simulate a crash); returns its code."""
        process = operator.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signum)
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop(self) -> None:
        """Stop every node, then anvil, and release the idle operators' ports."""
        for operator in self.operators:
            self.stop_node(operator)
        self.anvil.stop()
        if self._silent_ports is not None:
            self._silent_ports.close()
            self._silent_ports = None

    def describe(self) -> dict[str, object]:
        """What a person needs to reach the devnet (also written to devnet.json)."""
        assert self.deployment is not None
        return {
            "rpc_url": self.anvil.rpc_url,
            "registration": self.registration,
            "contracts": self.deployment.to_dict(),
            "payments": {
                "vault": self.deployment.payment_vault,
                "global": DEVNET_PARAMS.describe(),
                "accounts": [account.describe() for account in self.paying_accounts],
            },
            "disperser": self.disperser.address,
            "operators": [
                {
                    "name": op.name,
                    "stake": op.stake,
                    "operator_id": "0x" + op.keypair.operator_id.hex(),
                    "address": op.account.address,
                    "api": op.api_url,
                    "dispersal": op.dispersal_url,
                    "socket": op.socket,
                    "metrics": f"http://127.0.0.1:{op.metrics_port}/metrics",
                    "config": str(op.config_path),
                    "log": str(op.log_path),
                }
                for op in self.operators
            ],
            "idle_operators": [
                {
                    "name": op.name,
                    "stake": op.stake,
                    "operator_id": "0x" + op.operator_id.hex(),
                    "address": op.account.address,
                    "socket": op.socket,
                }
                for op in self.idle_operators
            ],
            "nodes_stake_share": round(self.node_share, 4),
        }

    def _new_operator(self, index: int, stake: int) -> DevnetOperator:
        account: LocalAccount = Account.from_key(DEV_PRIVATE_KEYS[index + 1])
        return DevnetOperator(
            index,
            stake,
            BlsKeyPair.generate(),
            account,
            api_port=free_port(),
            metrics_port=free_port(),
            home=self.root / f"operator-{index}",
            dispersal_port=free_port(),
        )

    async def _deploy(self) -> None:
        w3 = connect(self.anvil.rpc_url, metrics=None)
        try:
            deployer: LocalAccount = Account.from_key(DEV_PRIVATE_KEYS[0])
            cap = max(_QUORUM_CAP, self.operator_count)
            kind = "m2" if self.registration == "m2" else "slashable"
            self.deployment = await deploy_contracts(
                w3,
                deployer,
                quorums=[QuorumSpec(max_operator_count=cap, minimum_stake=TOKEN, kind=kind)],
                coordinator_form=(
                    "RegistryCoordinator" if kind == "m2" else "SlashingRegistryCoordinator"
                ),
                dispersers=[self.disperser.address],
            )
            for op in self.operators:
                await deposit(w3, deployer, self.deployment, op.account, op.stake * TOKEN)
            accounts = self.root / "accounts"
            self.paying_accounts = await set_up_payments(w3, deployer, self.deployment, accounts)
        finally:
            await w3.provider.disconnect()
        self.log(f"deployed contracts; registry coordinator {self.deployment.registry_coordinator}")

    async def _register(self, operator: DevnetOperator) -> None:
        """Register as an operator would, running ``register`` again once its allocation has
        taken effect (the devnet mines the blocks in between)."""
        connection = self.connect(operator.account)
        options = OperatorSetOptions(
            allocation_delay=DEVNET_ALLOCATION_DELAY, magnitudes={QUORUM: DEVNET_MAGNITUDE}
        )
        try:
            writer = await connection.get_writer()
            for _ in range(2):
                result = await ensure_registered(
                    writer, operator.keypair, (QUORUM,), operator.socket,
                    mode=self.registration, options=options,
                )  # fmt: skip
                if result.waiting_for_block is None:
                    break
                head = await writer.reader.get_current_block()
                await mine(writer.reader.w3, result.waiting_for_block - head)
        finally:
            await connection.close()
        how = "M2" if self.registration == "m2" else "operator set, half its stake allocated"
        self.log(f"registered {operator.name} (stake {operator.stake}, {how}) at {operator.socket}")

    async def _register_idle(self) -> None:
        assert self.deployment is not None and self._silent_ports is not None
        self.idle_operators = [
            derive_idle_operator(i, stake, socket, self.idle_seed)
            for i, (stake, socket) in enumerate(
                zip(self.idle_stakes, self._silent_ports.sockets, strict=True)
            )
        ]
        w3 = connect(self.anvil.rpc_url, metrics=None)
        try:
            deployer: LocalAccount = Account.from_key(DEV_PRIVATE_KEYS[0])
            steps = await register_idle_operators(
                w3, deployer, self.deployment, self.idle_operators, (QUORUM,), unit=TOKEN
            )
        finally:
            await w3.provider.disconnect()
        self.log(
            f"registered {len(self.idle_operators)} operators without a node "
            f"({', '.join(f'{step} {seconds:.2f} s' for step, seconds in steps.items())}); "
            f"the {len(self.operators)} nodes hold {self.node_share:.1%} of the stake"
        )

    def configure_node(
        self,
        operator: DevnetOperator,
        changes: Mapping[str, Mapping[str, TomlValue]] | None = None,
    ) -> None:
        """Write an operator's node config: the devnet's, with ``changes`` by section and key.

        Takes effect when the node next starts. Without changes, it restores the devnet's own.
        """
        sections = self._node_sections(operator)
        for name, values in (changes or {}).items():
            sections.setdefault(name, {}).update(values)
        operator.config_path.write_text(_render_toml(sections))

    def _write_node_files(self, operator: DevnetOperator) -> None:
        keystore, password_file = operator.keystore_path, operator.password_path
        keystore.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not keystore.exists():  # a keystore kept from an earlier run keeps its password
            password = secrets.token_hex(16)
            password_file.touch(mode=0o600)
            password_file.write_text(password + "\n")
            save_bls_keystore(keystore, operator.keypair, password, scrypt_n=DEVNET_SCRYPT_N)
        self.configure_node(operator)

    def _node_sections(self, operator: DevnetOperator) -> dict[str, dict[str, TomlValue]]:
        chain = self.chain_section()
        request_limit = self.request_limit(operator)
        return {
            "node": {"name": operator.name, "data_dir": str(operator.home / "data")},
            "api": {
                "host": "127.0.0.1",
                "port": operator.api_port,
                "dispersal_port": operator.dispersal_port,
                "socket": operator.socket,
                "shutdown_grace": 5,
            },
            "metrics": {"host": "127.0.0.1", "port": operator.metrics_port},
            "keys": {
                "bls_keystore": str(operator.keystore_path),
                "bls_password_file": str(operator.password_path),
            },
            "chain": {
                "rpc_url": chain.rpc_url,
                "chain_id": chain.chain_id,
                "registry_coordinator": chain.registry_coordinator,
                "operator_state_retriever": chain.operator_state_retriever,
                "quorums": [QUORUM],
            },
            "store": {"max_size": max(self.store_max_size, 2 * request_limit)},
            "limits": {"max_request_bytes": request_limit},
            "dispersal": {"max_blob_size": self.max_blob_size},
            **({"payments": dict(self.payments)} if self.payments else {}),
            **({"repair": dict(self.repair)} if self.repair else {}),
        }

    def request_limit(self, operator: DevnetOperator) -> int:
        """The node's ``max_request_bytes``: the default, or more where the operator's stake can
        make its share of a max-size blob larger (protocol.limits), rounded up to a MiB."""
        total = sum(self.stakes) + sum(self.idle_stakes)
        share = largest_share(
            [QuorumShare(QUORUM, operator.stake, total)],
            max_blob_size=self.max_blob_size,
            min_margin=DEFAULT_MIN_MARGIN,
            max_overhead=DEFAULT_MAX_OVERHEAD,
        )
        return max(DEFAULT_REQUEST_LIMIT, -(-share.request_bytes // MiB) * MiB)


def _render_toml(sections: Mapping[str, Mapping[str, TomlValue]]) -> str:
    """Tables of plain keys; strings as TOML basic strings (JSON's escapes are TOML's)."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    return repr(value)
