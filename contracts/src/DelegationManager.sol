// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Delegation} from "./Delegation.sol";

/// @title EigenLayer's DelegationManager in its current ("slashing") form: operator registration
/// and the shares delegated to operators.
contract DelegationManager is Delegation {
    mapping(address operator => address) public delegationApprover;
    mapping(address operator => uint32) public allocationDelay;

    event OperatorRegistered(address indexed operator, address delegationApprover);
    event OperatorMetadataURIUpdated(address indexed operator, string metadataURI);

    /// @notice Register the caller as an EigenLayer operator, delegated to itself.
    function registerAsOperator(
        address initDelegationApprover,
        uint32 initAllocationDelay,
        string calldata metadataURI
    ) external {
        _registerOperator(msg.sender);
        delegationApprover[msg.sender] = initDelegationApprover;
        allocationDelay[msg.sender] = initAllocationDelay;
        emit OperatorRegistered(msg.sender, initDelegationApprover);
        emit OperatorMetadataURIUpdated(msg.sender, metadataURI);
    }

    /// @notice Update the metadata URI of `operator` (the caller).
    function updateOperatorMetadataURI(address operator, string calldata metadataURI) external {
        require(operator == msg.sender, "DelegationManager.updateOperatorMetadataURI: not the operator");
        require(_isOperator[operator], "DelegationManager.updateOperatorMetadataURI: not an operator");
        emit OperatorMetadataURIUpdated(operator, metadataURI);
    }
}
