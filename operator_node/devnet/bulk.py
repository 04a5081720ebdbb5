"""Many operators at once: the scale devnet's operators that hold stake and run no node.

They are registered through the same contracts, in the same steps, as a running node's operator —
tokens minted and deposited into the strategy, ``registerAsOperator`` (delegated to itself), then
``RegistryCoordinator.registerOperator`` with a BLS proof of possession and an ECDSA consent to
the AVS — but not one transaction at a time, so that 250 take seconds, not minutes:

1. keys are derived from a seed and an index (no keystore: these keys never sign a batch) and
   each account is funded with ``anvil_setBalance``;
2. the two messages each operator signs (``pubkeyRegistrationMessageHash`` and the AVS
   directory's consent digest) are read in JSON-RPC batches. The BLS proof is not checked
   locally (one pairing, 0.2 s in Python): the BLSApkRegistry checks it, and a bad one would
   show in step 4;
3. transactions are encoded and signed here (explicit nonces, fixed gas limits and fees: no
   estimate, no receipt wait per transaction) and sent in JSON-RPC batches: the owner's mints
   first, then, once they are mined, every operator's approve, deposit, registerAsOperator and
   registerOperator, which its own nonces order; with automine off, blocks are mined until the
   pool is empty (30M gas a block) and anything anvil dropped meanwhile is sent again;
4. one ``getOperatorState`` read checks that every operator is registered with its stake; only
   for one that is not are its receipts read, to say which step failed.

Their sockets name loopback ports held bound but not listening (:class:`SilentPorts`): a
disperser's connection is refused at once, as by a host that is down, rather than hanging, and no
other process can bind the port while the devnet holds it.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from eth_typing import Hash32
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.contract.async_contract import AsyncContractFunction
from web3.exceptions import TransactionNotFound
from web3.types import RPCEndpoint

from operator_node.chain.calls import call_views, encode_call
from operator_node.chain.contracts import ZERO_ADDRESS, bind
from operator_node.chain.deploy import Deployment
from operator_node.chain.writer import m2_entry_points
from operator_node.crypto.bls import BlsKeyPair, PubkeyRegistrationParams
from operator_node.crypto.bn254 import CURVE_ORDER, G1Point
from operator_node.errors import OperatorNodeError

DEFAULT_SEED = b"operator-node devnet idle operators"
_BALANCE = 100 * 10**18  # wei each idle operator gets for gas
_CONSENT_LIFETIME = 3600  # seconds the AVS consent signatures stay valid
_MAX_FEE = 50 * 10**9  # wei per gas: far above anvil's base fee, which these blocks barely move
_TIP = 10**9
# Gas limits: about twice what each call uses on the devnet's contracts (mint 51-68k, approve 46k,
# deposit 123-157k, registerAsOperator 115k, registerOperator 650-765k), so that a limit is never
# why a registration fails; anvil charges only the gas used.
_GAS = {
    "mint": 150_000,
    "approve": 100_000,
    "deposit": 300_000,
    "registerAsOperator": 250_000,
    "registerOperator": 1_500_000,
}
_STEPS = ("approve", "deposit", "registerAsOperator", "registerOperator")
_DRAIN_TIMEOUT = 120.0
_SEND_ROUNDS = 10
_BATCH = 500  # requests per JSON-RPC batch to anvil
_T = TypeVar("_T")


class BulkRegistrationError(OperatorNodeError):
    """Some operators were not registered with their stake; the message says which and why."""


@dataclass(frozen=True)
class IdleOperator:
    """A registered operator that runs no node: it holds stake and never answers."""

    index: int
    stake: int  # whole tokens deposited
    account: LocalAccount = field(repr=False)
    keypair: BlsKeyPair = field(repr=False)
    socket: str

    @property
    def name(self) -> str:
        """``idle-<index>``."""
        return f"idle-{self.index}"

    @property
    def operator_id(self) -> bytes:
        """Its operator id (keccak of the G1 key)."""
        return self.keypair.operator_id


def derive_idle_operator(
    index: int, stake: int, socket: str, seed: bytes = DEFAULT_SEED
) -> IdleOperator:
    """Idle operator ``index``: ECDSA and BLS keys derived from ``seed`` and the index (the same
    seed gives the same operators, so a failure reproduces), ``stake`` whole tokens, ``socket``.
    """
    tag = index.to_bytes(4, "big")
    account: LocalAccount = Account.from_key(keccak(seed + b"/ecdsa/" + tag))
    secret = int.from_bytes(keccak(seed + b"/bls/" + tag), "big") % (CURVE_ORDER - 1) + 1
    return IdleOperator(index, stake, account, BlsKeyPair(secret), socket)


class SilentPorts:
    """``count`` loopback ports, each held by a socket bound but not listening, until
    :meth:`close`. A TCP connection to one is refused at once; bind(0) never hands them out."""

    def __init__(self, count: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self._sockets: list[socket.socket] = []
        try:
            for _ in range(count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._sockets.append(sock)
                sock.bind((host, 0))
        except OSError:
            self.close()
            raise

    @property
    def sockets(self) -> list[str]:
        """``host:port`` of each port."""
        return [f"{self.host}:{s.getsockname()[1]}" for s in self._sockets]

    def close(self) -> None:
        """Release the ports. Idempotent."""
        for sock in self._sockets:
            sock.close()
        self._sockets = []


@dataclass
class _Plan:
    """One operator's registration: its signed messages, then its transactions' hashes."""

    operator: IdleOperator
    params: PubkeyRegistrationParams
    consent: tuple[bytes, bytes, int]  # (signature, salt, expiry)
    hashes: dict[str, str] = field(default_factory=dict)


async def register_idle_operators(
    w3: AsyncWeb3[Any],
    owner: LocalAccount,
    deployment: Deployment,
    operators: Sequence[IdleOperator],
    quorums: Sequence[int],
    *,
    unit: int = 10**18,
) -> dict[str, float]:
    """Give each operator its stake (``stake * unit`` tokens minted by ``owner``, the token's
    minter) and register it in ``quorums`` with its socket; returns the seconds each step took.

    The operators' accounts must be fresh (nonce 0). Needs anvil (``anvil_setBalance``,
    ``evm_setAutomine``, ``evm_mine``, ``txpool_status``). Raises
    :class:`BulkRegistrationError` naming operators that did not end up registered with their
    stake, and transport errors as the provider raises them.
    """
    timings: dict[str, float] = {}

    async def timed(step: str, work: Awaitable[_T]) -> _T:
        started = time.perf_counter()
        result = await work
        timings[step] = time.perf_counter() - started
        return result

    if not operators:
        return timings
    balances = [[op.account.address, hex(_BALANCE)] for op in operators]
    await timed("fund", _batch(w3, "anvil_setBalance", balances))
    plans = await timed("sign", _prepare(w3, deployment, operators))
    chain_id = int(await w3.eth.chain_id)
    owner_nonce = int(await w3.eth.get_transaction_count(owner.address, "pending"))
    mints = _sign_mints(w3, chain_id, owner, owner_nonce, deployment, plans, unit)
    await timed("mint", _send_and_mine(w3, mints))
    registrations = _sign_registrations(w3, chain_id, deployment, plans, quorums, unit)
    await timed("register", _send_and_mine(w3, registrations))
    await timed("check", _check(w3, deployment, plans, quorums, unit))
    return timings


async def _batch(w3: AsyncWeb3[Any], method: str, params: Sequence[list[Any]]) -> list[Any]:
    """``method`` with each of ``params``, in JSON-RPC batches; the results in order. Raises
    :class:`BulkRegistrationError` if any request fails."""
    results: list[Any] = []
    for start in range(0, len(params), _BATCH):
        requests = [(RPCEndpoint(method), p) for p in params[start : start + _BATCH]]
        responses = await w3.provider.make_batch_request(requests)
        if not isinstance(responses, list):
            raise BulkRegistrationError(f"{method}: batch refused: {responses.get('error')}")
        errors = [r["error"] for r in responses if "error" in r]
        if errors:
            raise BulkRegistrationError(f"{method}: {len(errors)} failed, first: {errors[0]}")
        results += [r["result"] for r in responses]
    return results


async def _send_and_mine(w3: AsyncWeb3[Any], raws: Sequence[bytes]) -> None:
    """Get every one of ``raws`` (signed transactions, in nonce order per sender) mined: sent
    with automine off, blocks mined until anvil's pool is empty, and whatever has no receipt
    then sent again, same bytes. A revert still counts as mined (:func:`_check` finds it).
    Automine is restored as it was.

    anvil drops a sender's later transactions from its pool when an earlier one does not fit in
    the block being mined (its blocks hold 30M gas: ~40 registerOperator calls), so a batch of
    several transactions per sender loses a few; with automine on, a batch also now and then
    left one pooled that no block took.
    """
    automine = bool(await _rpc(w3, "anvil_getAutomine", []))
    await _rpc(w3, "evm_setAutomine", [False])
    try:
        hashes = ["0x" + keccak(raw).hex() for raw in raws]
        unmined = list(range(len(raws)))
        for _ in range(_SEND_ROUNDS):
            await _batch(w3, "eth_sendRawTransaction", [["0x" + raws[i].hex()] for i in unmined])
            await _mine_until_empty(w3)
            receipts = await _batch(w3, "eth_getTransactionReceipt", [[hashes[i]] for i in unmined])
            unmined = [i for i, receipt in zip(unmined, receipts, strict=True) if receipt is None]
            if not unmined:
                return
        raise BulkRegistrationError(
            f"{len(unmined)} transactions still unmined after {_SEND_ROUNDS} rounds"
        )
    finally:
        await _rpc(w3, "evm_setAutomine", [automine])


async def _mine_until_empty(w3: AsyncWeb3[Any]) -> None:
    deadline = time.monotonic() + _DRAIN_TIMEOUT
    while await _pooled(w3):
        if time.monotonic() > deadline:
            raise BulkRegistrationError(f"transactions still pooled after {_DRAIN_TIMEOUT:g} s")
        await _rpc(w3, "evm_mine", [])


async def _pooled(w3: AsyncWeb3[Any]) -> int:
    status = await _rpc(w3, "txpool_status", [])
    return int(status["pending"], 16) + int(status["queued"], 16)


async def _rpc(w3: AsyncWeb3[Any], method: str, params: list[Any]) -> Any:
    (result,) = await _batch(w3, method, [params])
    return result


async def _prepare(
    w3: AsyncWeb3[Any], deployment: Deployment, operators: Sequence[IdleOperator]
) -> list[_Plan]:
    """Each operator's BLS proof of possession and AVS consent signature, over the messages the
    registry coordinator and the AVS directory give (read in JSON-RPC batches)."""
    coordinator = bind(w3, "RegistryCoordinator", deployment.registry_coordinator)
    directory = bind(w3, "AVSDirectory", deployment.avs_directory)
    expiry = int((await w3.eth.get_block("latest"))["timestamp"]) + _CONSENT_LIFETIME
    salts = [secrets.token_bytes(32) for _ in operators]
    addresses = [op.account.address for op in operators]
    messages = await call_views(
        "RegistryCoordinator",
        [coordinator.functions.pubkeyRegistrationMessageHash(a) for a in addresses],
    )
    digest = directory.functions.calculateOperatorAVSRegistrationDigestHash
    digests = await call_views(
        "AVSDirectory",
        [
            digest(a, deployment.service_manager, salt, expiry)
            for a, salt in zip(addresses, salts, strict=True)
        ],
    )
    plans = []
    for op, salt, (x, y), hashed in zip(operators, salts, messages, digests, strict=True):
        params = PubkeyRegistrationParams(
            op.keypair.sign_g1_point(G1Point.from_coordinates(x, y)),
            op.keypair.pubkey_g1_point,
            op.keypair.pubkey_g2_point,
        )
        signature = op.account.unsafe_sign_hash(Hash32(hashed)).signature
        plans.append(_Plan(op, params, (bytes(signature), salt, expiry)))
    return plans


def _sign(
    account: LocalAccount, chain_id: int, nonce: int, call: AsyncContractFunction, step: str
) -> bytes:
    """``call`` as a signed raw transaction from ``account``, with the step's gas limit."""
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "to": call.address,
        "data": encode_call(call),
        "value": 0,
        "gas": _GAS[step],
        "maxFeePerGas": _MAX_FEE,
        "maxPriorityFeePerGas": _TIP,
    }
    return bytes(account.sign_transaction(tx).raw_transaction)


def _sign_mints(
    w3: AsyncWeb3[Any],
    chain_id: int,
    owner: LocalAccount,
    nonce: int,
    deployment: Deployment,
    plans: Sequence[_Plan],
    unit: int,
) -> list[bytes]:
    token = bind(w3, "StakeToken", deployment.token)
    raws = []
    for offset, plan in enumerate(plans):
        op = plan.operator
        mint = token.functions.mint(op.account.address, op.stake * unit)
        raws.append(_sign(owner, chain_id, nonce + offset, mint, "mint"))
        plan.hashes["mint"] = "0x" + keccak(raws[-1]).hex()
    return raws


def _sign_registrations(
    w3: AsyncWeb3[Any],
    chain_id: int,
    deployment: Deployment,
    plans: Sequence[_Plan],
    quorums: Sequence[int],
    unit: int,
) -> list[bytes]:
    token = bind(w3, "StakeToken", deployment.token)
    strategies = bind(w3, "StrategyManager", deployment.strategy_manager)
    m2 = deployment.core == "m2"
    delegation = bind(
        w3, "DelegationManagerM2" if m2 else "DelegationManager", deployment.delegation_manager
    )
    coordinator = bind(w3, "RegistryCoordinator", deployment.registry_coordinator)
    raws = []
    for plan in plans:
        op = plan.operator
        address, amount = op.account.address, op.stake * unit
        core_args = ((address, ZERO_ADDRESS, 0), "") if m2 else (ZERO_ADDRESS, 0, "")
        calls = {
            "approve": token.functions.approve(deployment.strategy_manager, amount),
            "deposit": strategies.functions.depositIntoStrategy(
                deployment.strategy, deployment.token, amount
            ),
            "registerAsOperator": delegation.functions.registerAsOperator(*core_args),
            "registerOperator": m2_entry_points(coordinator).functions.registerOperator(
                bytes(sorted(quorums)), op.socket, plan.params.to_abi(), plan.consent
            ),
        }
        for nonce, step in enumerate(_STEPS):  # fresh accounts: nonces from 0
            raws.append(_sign(op.account, chain_id, nonce, calls[step], step))
            plan.hashes[step] = "0x" + keccak(raws[-1]).hex()
    return raws


async def _check(
    w3: AsyncWeb3[Any],
    deployment: Deployment,
    plans: Sequence[_Plan],
    quorums: Sequence[int],
    unit: int,
) -> None:
    """Raise :class:`BulkRegistrationError` unless every operator is in every quorum with its
    stake, naming for the first few that are not which of their transactions failed."""
    retriever = bind(w3, "OperatorStateRetriever", deployment.operator_state_retriever)
    block = int(await w3.eth.block_number)
    fn = retriever.get_function_by_signature("getOperatorState(address,bytes,uint32)")
    state = await fn(deployment.registry_coordinator, bytes(sorted(quorums)), block).call()
    found = [{bytes(i): int(s) for _, i, s in operators} for operators in state]
    missing = [
        plan
        for plan in plans
        if any(
            stakes.get(plan.operator.operator_id) != plan.operator.stake * unit for stakes in found
        )
    ]
    if not missing:
        return
    reasons = await asyncio.gather(*(_diagnose(w3, plan) for plan in missing[:5]))
    raise BulkRegistrationError(
        f"{len(missing)} of {len(plans)} operators not registered with their stake: "
        + "; ".join(reasons)
    )


async def _diagnose(w3: AsyncWeb3[Any], plan: _Plan) -> str:
    name = f"{plan.operator.name} ({plan.operator.account.address})"
    for step in ("mint", *_STEPS):
        try:
            receipt = await w3.eth.get_transaction_receipt(HexBytes(plan.hashes[step]))
        except (KeyError, TransactionNotFound):
            return f"{name}: {step} was not mined"
        if receipt["status"] != 1:
            return f"{name}: {step} reverted (gas used {receipt['gasUsed']} of {_GAS[step]})"
    return f"{name}: every transaction succeeded, yet its stake is not in the state"
