// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title The network address ("host:port") each operator serves on, set by the coordinator.
contract SocketRegistry {
    address public immutable registryCoordinator;

    mapping(bytes32 operatorId => string) public operatorIdToSocket;

    constructor(address coordinator) {
        registryCoordinator = coordinator;
    }

    /// @notice Set an operator's socket (called by the registry coordinator).
    function setOperatorSocket(bytes32 operatorId, string memory socket) external {
        require(
            msg.sender == registryCoordinator,
            "SocketRegistry.onlyRegistryCoordinator: caller is not the RegistryCoordinator"
        );
        operatorIdToSocket[operatorId] = socket;
    }

    /// @notice An operator's socket ("" if never set).
    function getOperatorSocket(bytes32 operatorId) external view returns (string memory) {
        return operatorIdToSocket[operatorId];
    }
}
