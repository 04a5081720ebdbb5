// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Delegation} from "./Delegation.sol";

/// @title EigenLayer's M2 DelegationManager: operator registration with OperatorDetails, and the
/// shares delegated to operators.
/// @notice Many AVS stacks still run the M2 core (EigenDA among them).
contract DelegationManagerM2 is Delegation {
    struct OperatorDetails {
        address earningsReceiver;
        address delegationApprover;
        uint32 stakerOptOutWindowBlocks;
    }

    /// @dev The M2 core's cap on the staker opt-out window (180 days of 12-second blocks).
    uint256 public constant MAX_STAKER_OPT_OUT_WINDOW_BLOCKS = (180 days) / 12;

    mapping(address operator => OperatorDetails) internal _operatorDetails;

    event OperatorRegistered(address indexed operator, OperatorDetails operatorDetails);
    event OperatorMetadataURIUpdated(address indexed operator, string metadataURI);

    /// @notice Register the caller as an EigenLayer operator (M2 form), delegated to itself.
    function registerAsOperator(
        OperatorDetails calldata registeringOperatorDetails,
        string calldata metadataURI
    ) external {
        require(
            registeringOperatorDetails.stakerOptOutWindowBlocks <= MAX_STAKER_OPT_OUT_WINDOW_BLOCKS,
            "DelegationManager.registerAsOperator: stakerOptOutWindowBlocks too large"
        );
        _registerOperator(msg.sender);
        _operatorDetails[msg.sender] = registeringOperatorDetails;
        emit OperatorRegistered(msg.sender, registeringOperatorDetails);
        emit OperatorMetadataURIUpdated(msg.sender, metadataURI);
    }

    /// @notice The details `operator` registered with.
    function operatorDetails(address operator) external view returns (OperatorDetails memory) {
        return _operatorDetails[operator];
    }
}
