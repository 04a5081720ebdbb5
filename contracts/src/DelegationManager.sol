// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title The operator-registration part of EigenLayer's DelegationManager (slashing release).
/// @notice Only operator registration is modelled; delegation, shares and withdrawals are not.
contract DelegationManager {
    mapping(address operator => bool) internal _isOperator;
    mapping(address operator => address) public delegationApprover;
    mapping(address operator => uint32) public allocationDelay;

    event OperatorRegistered(address indexed operator, address delegationApprover);
    event OperatorMetadataURIUpdated(address indexed operator, string metadataURI);

    /// @notice Register the caller as an EigenLayer operator.
    function registerAsOperator(
        address initDelegationApprover,
        uint32 initAllocationDelay,
        string calldata metadataURI
    ) external {
        require(!_isOperator[msg.sender], "DelegationManager.registerAsOperator: already an operator");
        _isOperator[msg.sender] = true;
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

    /// @notice Whether `operator` registered as an operator.
    function isOperator(address operator) external view returns (bool) {
        return _isOperator[operator];
    }
}
