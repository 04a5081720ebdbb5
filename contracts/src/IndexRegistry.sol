// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title The ordered list of operators in each quorum, queryable at any past block.
/// @notice Operators are listed in order of registration. Each membership is kept as the interval
/// of blocks it covered, so the list at any block is recovered without per-index histories.
contract IndexRegistry {
    struct Membership {
        bytes32 operatorId;
        uint32 fromBlockNumber;
        uint32 toBlockNumber; // 0 while the operator is still registered
    }

    address public immutable registryCoordinator;

    mapping(uint8 quorumNumber => Membership[]) internal _memberships;
    mapping(uint8 quorumNumber => mapping(bytes32 operatorId => uint256)) internal _openPlusOne;
    mapping(uint8 quorumNumber => uint32) internal _operatorCount;
    mapping(uint8 quorumNumber => bool) internal _exists;

    event QuorumIndexUpdate(bytes32 indexed operatorId, uint8 quorumNumber, uint32 newOperatorIndex);

    modifier onlyRegistryCoordinator() {
        require(
            msg.sender == registryCoordinator,
            "IndexRegistry.onlyRegistryCoordinator: caller is not the registry coordinator"
        );
        _;
    }

    constructor(address coordinator) {
        registryCoordinator = coordinator;
    }

    /// @notice Start an empty quorum.
    function initializeQuorum(uint8 quorumNumber) external onlyRegistryCoordinator {
        require(!_exists[quorumNumber], "IndexRegistry.initializeQuorum: quorum already exists");
        _exists[quorumNumber] = true;
    }

    /// @notice Append an operator to each quorum; returns each quorum's new operator count.
    function registerOperator(bytes32 operatorId, bytes calldata quorumNumbers)
        external
        onlyRegistryCoordinator
        returns (uint32[] memory numOperatorsPerQuorum)
    {
        numOperatorsPerQuorum = new uint32[](quorumNumbers.length);
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            require(_exists[q], "IndexRegistry.registerOperator: quorum does not exist");
            require(_openPlusOne[q][operatorId] == 0, "IndexRegistry.registerOperator: operator already in quorum");
            _memberships[q].push(Membership(operatorId, uint32(block.number), 0));
            _openPlusOne[q][operatorId] = _memberships[q].length;
            uint32 count = _operatorCount[q];
            _operatorCount[q] = count + 1;
            numOperatorsPerQuorum[i] = count + 1;
            emit QuorumIndexUpdate(operatorId, q, count);
        }
    }

    /// @notice Close an operator's membership of each quorum.
    function deregisterOperator(bytes32 operatorId, bytes calldata quorumNumbers)
        external
        onlyRegistryCoordinator
    {
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            uint256 slot = _openPlusOne[q][operatorId];
            require(slot != 0, "IndexRegistry.deregisterOperator: operator not in quorum");
            _memberships[q][slot - 1].toBlockNumber = uint32(block.number);
            _openPlusOne[q][operatorId] = 0;
            _operatorCount[q] -= 1;
        }
    }

    /// @notice The number of operators registered in a quorum now.
    function totalOperatorsForQuorum(uint8 quorumNumber) external view returns (uint32) {
        return _operatorCount[quorumNumber];
    }

    /// @notice The operators registered in a quorum at the end of `blockNumber`, in order.
    function getOperatorListAtBlockNumber(uint8 quorumNumber, uint32 blockNumber)
        external
        view
        returns (bytes32[] memory list)
    {
        Membership[] storage all = _memberships[quorumNumber];
        list = new bytes32[](all.length);
        uint256 n = 0;
        for (uint256 i = 0; i < all.length; i++) {
            Membership storage m = all[i];
            bool started = m.fromBlockNumber <= blockNumber;
            bool ended = m.toBlockNumber != 0 && m.toBlockNumber <= blockNumber;
            if (started && !ended) {
                list[n++] = m.operatorId;
            }
        }
        assembly ("memory-safe") {
            mstore(list, n)
        }
    }
}
