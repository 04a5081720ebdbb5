// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRegistryCoordinator} from "./Interfaces.sol";

/// @title What accounts have paid for: bandwidth reserved in advance, and deposits for on-demand
/// dispersal, with the AVS's global prices and limits. Nodes read it to meter blobs per account.
/// @notice The AVS's owner (the registry coordinator's owner, so it follows the AVS) sets
/// reservations and the global parameters and may withdraw; anyone may deposit for an account.
/// A reservation is a rate in symbols (32 bytes) per second over [startTimestamp, endTimestamp]
/// (seconds), for some quorums, split between them in percent. Every change emits an event.
/// The shape follows EigenDA's PaymentVault; unlike it, a reservation can be removed, its rate
/// must be positive and its quorums ascending and existing, and the global on-demand limit is a
/// rate with a burst allowance.
contract PaymentVault {
    struct Reservation {
        uint64 symbolsPerSecond;
        uint64 startTimestamp;
        uint64 endTimestamp;
        bytes quorumNumbers;
        bytes quorumSplits;
    }

    IRegistryCoordinator public immutable registryCoordinator;

    mapping(address account => Reservation) internal _reservations;
    /// @notice Wei deposited for an account's on-demand dispersal (it only grows).
    mapping(address account => uint256) public onDemandDeposit;

    uint64 public minSymbolsPerBlob;
    uint64 public pricePerSymbol;
    /// @notice Seconds of reservation a client may burst (its bucket window).
    uint64 public reservationPeriod;
    /// @notice The network-wide on-demand rate, and the seconds of it that may come at once.
    uint64 public onDemandSymbolsPerSecond;
    uint64 public onDemandBurstSeconds;
    bytes public onDemandQuorumNumbers;

    event ReservationSet(address indexed account, Reservation reservation);
    event ReservationRemoved(address indexed account);
    event OnDemandDeposited(address indexed account, uint256 amount, uint256 totalDeposit);
    event GlobalParamsSet(
        uint64 minSymbolsPerBlob,
        uint64 pricePerSymbol,
        uint64 reservationPeriod,
        uint64 onDemandSymbolsPerSecond,
        uint64 onDemandBurstSeconds,
        bytes onDemandQuorumNumbers
    );
    event Withdrawn(address to, uint256 amount);

    modifier onlyAvsOwner() {
        require(
            msg.sender == registryCoordinator.owner(),
            "PaymentVault: caller is not the owner of the registryCoordinator"
        );
        _;
    }

    constructor(IRegistryCoordinator coordinator) {
        registryCoordinator = coordinator;
    }

    /// @notice Give `account` a reservation (replacing any it had).
    function setReservation(address account, Reservation calldata reservation) external onlyAvsOwner {
        require(account != address(0), "PaymentVault.setReservation: zero account");
        require(reservation.symbolsPerSecond > 0, "PaymentVault.setReservation: zero rate");
        require(
            reservation.startTimestamp < reservation.endTimestamp,
            "PaymentVault.setReservation: start must be before end"
        );
        _checkQuorums(reservation.quorumNumbers, "PaymentVault.setReservation");
        require(
            reservation.quorumSplits.length == reservation.quorumNumbers.length,
            "PaymentVault.setReservation: one split per quorum"
        );
        uint256 total = 0;
        for (uint256 i = 0; i < reservation.quorumSplits.length; i++) {
            uint8 split = uint8(reservation.quorumSplits[i]);
            require(split > 0, "PaymentVault.setReservation: zero split");
            total += split;
        }
        require(total == 100, "PaymentVault.setReservation: splits must sum to 100");
        _reservations[account] = reservation;
        emit ReservationSet(account, reservation);
    }

    /// @notice Take `account`'s reservation away.
    function removeReservation(address account) external onlyAvsOwner {
        require(
            _reservations[account].symbolsPerSecond != 0,
            "PaymentVault.removeReservation: account has no reservation"
        );
        delete _reservations[account];
        emit ReservationRemoved(account);
    }

    /// @notice Set the prices and limits every account shares.
    function setGlobalParams(
        uint64 minSymbols,
        uint64 price,
        uint64 period,
        uint64 onDemandRate,
        uint64 onDemandBurst,
        bytes calldata onDemandQuorums
    ) external onlyAvsOwner {
        require(minSymbols > 0, "PaymentVault.setGlobalParams: zero minimum symbols");
        require(period > 0, "PaymentVault.setGlobalParams: zero reservation period");
        if (onDemandQuorums.length > 0) {
            _checkQuorums(onDemandQuorums, "PaymentVault.setGlobalParams");
        }
        minSymbolsPerBlob = minSymbols;
        pricePerSymbol = price;
        reservationPeriod = period;
        onDemandSymbolsPerSecond = onDemandRate;
        onDemandBurstSeconds = onDemandBurst;
        onDemandQuorumNumbers = onDemandQuorums;
        emit GlobalParamsSet(minSymbols, price, period, onDemandRate, onDemandBurst, onDemandQuorums);
    }

    /// @notice Add the value sent to `account`'s on-demand deposit.
    function depositOnDemand(address account) external payable {
        _deposit(account);
    }

    /// @notice A plain transfer deposits for the sender.
    receive() external payable {
        _deposit(msg.sender);
    }

    /// @notice Move `amount` wei of the vault's balance to `to`.
    function withdraw(address payable to, uint256 amount) external onlyAvsOwner {
        (bool sent,) = to.call{value: amount}("");
        require(sent, "PaymentVault.withdraw: transfer failed");
        emit Withdrawn(to, amount);
    }

    /// @notice `account`'s reservation (all zero when it has none).
    function getReservation(address account) external view returns (Reservation memory) {
        return _reservations[account];
    }

    /// @notice The reservations of `accounts`, in order.
    function getReservations(address[] calldata accounts)
        external
        view
        returns (Reservation[] memory reservations)
    {
        reservations = new Reservation[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) {
            reservations[i] = _reservations[accounts[i]];
        }
    }

    /// @notice The on-demand deposits of `accounts`, in order.
    function getOnDemandDeposits(address[] calldata accounts) external view returns (uint256[] memory deposits) {
        deposits = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) {
            deposits[i] = onDemandDeposit[accounts[i]];
        }
    }

    /// @notice Every global parameter, in one call.
    function getGlobalParams()
        external
        view
        returns (uint64, uint64, uint64, uint64, uint64, bytes memory)
    {
        return (
            minSymbolsPerBlob,
            pricePerSymbol,
            reservationPeriod,
            onDemandSymbolsPerSecond,
            onDemandBurstSeconds,
            onDemandQuorumNumbers
        );
    }

    function _deposit(address account) internal {
        require(account != address(0), "PaymentVault.depositOnDemand: zero account");
        require(msg.value > 0, "PaymentVault.depositOnDemand: nothing sent");
        uint256 total = onDemandDeposit[account] + msg.value;
        onDemandDeposit[account] = total;
        emit OnDemandDeposited(account, msg.value, total);
    }

    /// @dev Quorum numbers must be non-empty, strictly ascending and exist.
    function _checkQuorums(bytes calldata quorums, string memory where) internal view {
        require(quorums.length > 0, string.concat(where, ": no quorums"));
        uint8 count = registryCoordinator.quorumCount();
        for (uint256 i = 0; i < quorums.length; i++) {
            require(uint8(quorums[i]) < count, string.concat(where, ": quorum does not exist"));
            require(
                i == 0 || uint8(quorums[i]) > uint8(quorums[i - 1]),
                string.concat(where, ": quorums not strictly ascending")
            );
        }
    }
}
