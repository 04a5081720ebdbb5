// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Delegation} from "./Delegation.sol";
import {IAllocationManager, IStrategy} from "./Interfaces.sol";

/// @title EigenLayer's DelegationManager in its current ("slashing") form: operator registration
/// and the shares delegated to operators.
/// @notice Registering sets the operator's allocation delay in the AllocationManager, where it
/// holds at once (EigenLayer v1.9 and later).
contract DelegationManager is Delegation {
    mapping(address operator => address) public delegationApprover;
    IAllocationManager public allocationManager;

    event OperatorRegistered(address indexed operator, address delegationApprover);
    event OperatorMetadataURIUpdated(address indexed operator, string metadataURI);

    /// @notice Name the AllocationManager once (it is deployed after this contract).
    function initializeAllocationManager(IAllocationManager manager) external {
        require(msg.sender == _deployer, "DelegationManager.initialize: caller is not the deployer");
        require(
            address(allocationManager) == address(0),
            "DelegationManager.initialize: already initialized"
        );
        allocationManager = manager;
    }

    /// @notice Register the caller as an EigenLayer operator, delegated to itself.
    function registerAsOperator(
        address initDelegationApprover,
        uint32 allocationDelay,
        string calldata metadataURI
    ) external {
        require(
            !isDelegated(msg.sender),
            "DelegationManager.registerAsOperator: caller is already actively delegated"
        );
        if (address(allocationManager) != address(0)) {
            allocationManager.setAllocationDelay(msg.sender, allocationDelay);
        }
        delegationApprover[msg.sender] = initDelegationApprover;
        _registerOperator(msg.sender);
        emit OperatorRegistered(msg.sender, initDelegationApprover);
        emit OperatorMetadataURIUpdated(msg.sender, metadataURI);
    }

    /// @notice Update the metadata URI of `operator` (the caller).
    function updateOperatorMetadataURI(address operator, string calldata metadataURI) external {
        require(operator == msg.sender, "DelegationManager.updateOperatorMetadataURI: not the operator");
        require(_isOperator[operator], "DelegationManager.updateOperatorMetadataURI: not an operator");
        emit OperatorMetadataURIUpdated(operator, metadataURI);
    }

    /// @notice The shares delegated to each operator in each strategy.
    function getOperatorsShares(address[] memory operators, IStrategy[] memory strategies)
        external
        view
        returns (uint256[][] memory shares)
    {
        shares = new uint256[][](operators.length);
        for (uint256 i = 0; i < operators.length; i++) {
            shares[i] = new uint256[](strategies.length);
            for (uint256 j = 0; j < strategies.length; j++) {
                shares[i][j] = operatorShares[operators[i]][strategies[j]];
            }
        }
    }
}
