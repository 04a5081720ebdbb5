"""The compiled contracts (ABI + creation bytecode), shipped as package data.

``node contracts/compile.js`` writes ``artifacts/<Name>.json`` from ``contracts/src/<Name>.sol``;
a test recompiles and fails when they are stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from operator_node.chain.errors import ChainError

CONTRACT_NAMES = (
    "AllocationManager",
    "AVSDirectory",
    "BLSApkRegistry",
    "DelegationManager",
    "DelegationManagerM2",
    "IndexRegistry",
    "OperatorStateRetriever",
    "PaymentVault",
    "PermissionController",
    "RegistryCoordinator",
    "ServiceManager",
    "ServiceManagerM2",
    "SlashingRegistryCoordinator",
    "SocketRegistry",
    "StakeRegistry",
    "StakeToken",
    "StrategyBase",
    "StrategyManager",
)


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def load_artifact(name: str) -> Artifact:
    """The artifact of contract ``name``; raises :class:`ChainError` if the package lacks it."""
    path = resources.files("operator_node.chain").joinpath("artifacts", f"{name}.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise ChainError(f"contract artifact {name}.json missing or unreadable: {exc}") from exc
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"])


def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of contract ``name``."""
    return load_artifact(name).abi
