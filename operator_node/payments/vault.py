"""The AVS's payment vault: accounts' reservations, on-demand deposits and the global prices and
limits, read and (for the AVS's owner, or any depositor) written.

The vault is found through the service manager's ``paymentVault()`` (this AVS's own function,
probed, as ``isDisperser`` is) unless an address is given. A reservation is a rate in symbols
(32 bytes) per second over [start, end] (Unix seconds), for some quorums split in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3.contract import AsyncContract
from web3.types import TxReceipt

from operator_node.chain.calls import call_view, probe_view
from operator_node.chain.contracts import AvsContracts, bind
from operator_node.chain.errors import ChainConfigError
from operator_node.chain.writer import ChainWriter

SYMBOL_BYTES = 32


@dataclass(frozen=True)
class Reservation:
    """``PaymentVault.Reservation``: ``symbols_per_second`` 0 means none."""

    symbols_per_second: int
    start: int
    end: int
    quorums: tuple[int, ...]
    splits: tuple[int, ...]

    @classmethod
    def from_abi(cls, raw: Any) -> Reservation:
        """From the ABI tuple (rate, start, end, quorum bytes, split bytes)."""
        rate, start, end, quorums, splits = raw
        return cls(int(rate), int(start), int(end), tuple(bytes(quorums)), tuple(bytes(splits)))

    def to_abi(self) -> tuple[int, int, int, bytes, bytes]:
        """The ABI tuple ``setReservation`` takes."""
        return (
            self.symbols_per_second, self.start, self.end, bytes(self.quorums), bytes(self.splits)
        )  # fmt: skip

    @property
    def exists(self) -> bool:
        """Whether the account has a reservation at all."""
        return self.symbols_per_second > 0

    def active(self, now: float) -> bool:
        """Whether ``now`` (Unix seconds) is inside [start, end]."""
        return self.exists and self.start <= now <= self.end

    def bytes_per_second(self) -> int:
        """The rate in bytes per second."""
        return self.symbols_per_second * SYMBOL_BYTES

    def describe(self) -> dict[str, Any]:
        """As ``payments show --json`` and devnet.json write it."""
        return {
            "symbols_per_second": self.symbols_per_second,
            "bytes_per_second": self.bytes_per_second(),
            "start": self.start,
            "end": self.end,
            "quorums": list(self.quorums),
            "splits": list(self.splits),
        }


@dataclass(frozen=True)
class GlobalParams:
    """``PaymentVault.getGlobalParams()``."""

    min_symbols_per_blob: int
    price_per_symbol: int
    reservation_period: int
    on_demand_symbols_per_second: int
    on_demand_burst_seconds: int
    on_demand_quorums: tuple[int, ...]

    @classmethod
    def from_abi(cls, raw: Any) -> GlobalParams:
        """From what ``getGlobalParams()`` returns."""
        minimum, price, period, rate, burst, quorums = raw
        return cls(
            int(minimum), int(price), int(period), int(rate), int(burst), tuple(bytes(quorums))
        )

    def to_abi(self) -> tuple[int, int, int, int, int, bytes]:
        """The arguments ``setGlobalParams`` takes."""
        return (
            self.min_symbols_per_blob, self.price_per_symbol, self.reservation_period,
            self.on_demand_symbols_per_second, self.on_demand_burst_seconds,
            bytes(self.on_demand_quorums),
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """As ``payments show --json`` and devnet.json write it (wei as decimal text)."""
        return {
            "min_symbols_per_blob": self.min_symbols_per_blob,
            "price_per_symbol_wei": str(self.price_per_symbol),
            "reservation_period_seconds": self.reservation_period,
            "on_demand_symbols_per_second": self.on_demand_symbols_per_second,
            "on_demand_burst_seconds": self.on_demand_burst_seconds,
            "on_demand_quorums": list(self.on_demand_quorums),
        }


async def find_vault(contracts: AvsContracts, address: str | None = None) -> AsyncContract:
    """The payment vault: ``address`` if given, else the service manager's ``paymentVault()``.

    Raises :class:`ChainConfigError` when neither names one.
    """
    w3 = contracts.registry_coordinator.w3
    if address:
        return bind(w3, "PaymentVault", address)
    answered, found = await probe_view(contracts.service_manager.functions.paymentVault())
    if not answered or int(str(found), 16) == 0:
        raise ChainConfigError(
            f"the service manager at {contracts.service_manager.address} names no payment vault "
            "(it has no paymentVault(), or it is zero): give the vault's address"
        )
    return bind(w3, "PaymentVault", str(found))


async def read_reservation(vault: AsyncContract, account: str) -> Reservation:
    """``getReservation(account)``."""
    raw = await call_view("PaymentVault", vault.functions.getReservation(account))
    return Reservation.from_abi(raw)


async def read_deposit(vault: AsyncContract, account: str) -> int:
    """``onDemandDeposit(account)``, in wei."""
    return int(await call_view("PaymentVault", vault.functions.onDemandDeposit(account)))


async def read_global_params(vault: AsyncContract) -> GlobalParams:
    """``getGlobalParams()``."""
    raw = await call_view("PaymentVault", vault.functions.getGlobalParams())
    return GlobalParams.from_abi(raw)


async def set_reservation(
    writer: ChainWriter, vault: AsyncContract, account: str, reservation: Reservation
) -> TxReceipt:
    """``setReservation`` (the AVS's owner)."""
    call = vault.functions.setReservation(account, reservation.to_abi())
    return await writer.tx.send(call, "PaymentVault.setReservation")


async def remove_reservation(writer: ChainWriter, vault: AsyncContract, account: str) -> TxReceipt:
    """``removeReservation`` (the AVS's owner)."""
    call = vault.functions.removeReservation(account)
    return await writer.tx.send(call, "PaymentVault.removeReservation")


async def set_global_params(
    writer: ChainWriter, vault: AsyncContract, params: GlobalParams
) -> TxReceipt:
    """``setGlobalParams`` (the AVS's owner)."""
    call = vault.functions.setGlobalParams(*params.to_abi())
    return await writer.tx.send(call, "PaymentVault.setGlobalParams")


async def deposit_on_demand(
    writer: ChainWriter, vault: AsyncContract, account: str, wei: int
) -> TxReceipt:
    """``depositOnDemand(account)`` with ``wei`` (anyone)."""
    call = vault.functions.depositOnDemand(account)
    return await writer.tx.send(call, "PaymentVault.depositOnDemand", value=wei)


def splits_for(quorums: Sequence[int], splits: Sequence[int] | None) -> tuple[int, ...]:
    """``splits``, or an even split of 100 over ``quorums`` (the first ones get the remainder)."""
    if splits:
        return tuple(splits)
    share, extra = divmod(100, len(quorums))
    return tuple(share + (1 if i < extra else 0) for i in range(len(quorums)))
