// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {SlashingRegistryCoordinator} from "./SlashingRegistryCoordinator.sol";
import {
    IServiceManager,
    OperatorSetParam,
    PubkeyRegistrationParams,
    QuorumBitmaps,
    SignatureWithSaltAndExpiry,
    StrategyParams
} from "./Interfaces.sol";

/// @title The AVS's registry coordinator for M2 and operator-set quorums, as EigenLayer's
/// middleware RegistryCoordinator (which extends its SlashingRegistryCoordinator).
/// @notice Operators join M2 quorums here (`registerOperator` with an AVSDirectory signature) and
/// operator-set quorums through the AllocationManager. Creating the first operator-set quorum
/// freezes the existing quorums as M2; the owner may later close M2 registration for good.
/// Whenever an operator leaves quorums and is in no M2 quorum after, the service manager
/// deregisters it from the AVS directory — as on EigenLayer, also an operator that only ever
/// joined operator sets, which the directory refuses (it never registered there): such an
/// operator cannot leave, be ejected from or be kicked out of an operator set. Our
/// deviation: `createQuorum` (M2) exists until operator sets are enabled, to model a deployment
/// from before the upgrade (EigenLayer's upgraded coordinator has none).
contract RegistryCoordinator is SlashingRegistryCoordinator {
    bool public operatorSetsEnabled;
    bool public isM2QuorumRegistrationDisabled;
    uint256 internal _m2QuorumBitmap;

    event OperatorSetsEnabled();
    event M2QuorumRegistrationDisabled();

    error OnlyM2QuorumsAllowed();
    error M2QuorumRegistrationIsDisabled();
    error OperatorSetQuorum();

    constructor(address initialOwner) SlashingRegistryCoordinator(initialOwner) {}

    /// @notice The AVS's service manager (its address is the AVS).
    function serviceManager() public view returns (IServiceManager) {
        return IServiceManager(avs);
    }

    /// @notice Create an M2 quorum with its parameters, minimum stake and strategies; refused
    /// once operator sets are enabled.
    function createQuorum(
        OperatorSetParam memory operatorSetParams,
        uint96 minimumStake,
        StrategyParams[] memory strategyParams
    ) external onlyOwner {
        require(!operatorSetsEnabled, OperatorSetQuorum());
        uint8 quorumNumber = _newQuorum(operatorSetParams);
        stakeRegistry.initializeQuorum(quorumNumber, minimumStake, strategyParams);
    }

    /// @notice Close registration into M2 quorums for good (leaving them stays open).
    function disableM2QuorumRegistration() external onlyOwner {
        require(!isM2QuorumRegistrationDisabled, M2QuorumRegistrationIsDisabled());
        isM2QuorumRegistrationDisabled = true;
        emit M2QuorumRegistrationDisabled();
    }

    /// @notice Register the caller into M2 `quorumNumbers`, registering its BLS key first if
    /// needed, and with the AVS directory the first time.
    function registerOperator(
        bytes calldata quorumNumbers,
        string calldata socket,
        PubkeyRegistrationParams calldata params,
        SignatureWithSaltAndExpiry memory operatorSignature
    ) external {
        require(!isM2QuorumRegistrationDisabled, M2QuorumRegistrationIsDisabled());
        _requireM2(quorumNumbers);
        bytes32 operatorId = _getOrCreateOperatorId(msg.sender, params);
        bool registeredBefore = _operatorInfo[msg.sender].status == OperatorStatus.REGISTERED;
        if (!registeredBefore) {
            serviceManager().registerOperatorToAVS(msg.sender, operatorSignature);
        }
        _registerOperator(msg.sender, operatorId, quorumNumbers, socket);
    }

    /// @notice Remove the caller from M2 `quorumNumbers` (operator-set quorums are left through
    /// the AllocationManager); leaving every quorum leaves the AVS.
    function deregisterOperator(bytes calldata quorumNumbers) external {
        _requireM2(quorumNumbers);
        _deregisterOperator(msg.sender, quorumNumbers);
    }

    /// @notice The quorums that are M2 quorums: all of them until operator sets are enabled.
    function m2QuorumBitmap() public view returns (uint256) {
        return operatorSetsEnabled ? _m2QuorumBitmap : _allQuorums();
    }

    /// @notice Whether `quorumNumber` is an M2 quorum (else an operator set of `avs`).
    function isM2Quorum(uint8 quorumNumber) public view returns (bool) {
        return (m2QuorumBitmap() >> quorumNumber) & 1 == 1;
    }

    /// @dev The first operator-set quorum freezes every existing quorum as M2.
    function _beforeCreateQuorum() internal override {
        if (!operatorSetsEnabled) {
            _m2QuorumBitmap = _allQuorums();
            operatorSetsEnabled = true;
            emit OperatorSetsEnabled();
        }
    }

    function _afterDeregisterOperator(address operator, uint192 remaining) internal override {
        if (uint256(remaining) & m2QuorumBitmap() == 0) {
            serviceManager().deregisterOperatorFromAVS(operator);
        }
    }

    /// @dev M2 quorums are left here, operator-set quorums through the AllocationManager.
    function _kick(address operator, uint192 bitmap) internal override {
        uint192 m2 = bitmap & uint192(m2QuorumBitmap());
        if (m2 != 0) {
            _deregisterOperator(operator, QuorumBitmaps.toBytes(m2));
        }
        if (bitmap & ~m2 != 0) {
            super._kick(operator, bitmap & ~m2);
        }
    }

    function _requireM2(bytes calldata quorumNumbers) internal view {
        uint256 bitmap = QuorumBitmaps.fromBytes(quorumNumbers, quorumCount);
        require(bitmap & ~m2QuorumBitmap() == 0, OnlyM2QuorumsAllowed());
    }

    function _allQuorums() internal view returns (uint256) {
        return (uint256(1) << quorumCount) - 1;
    }
}
