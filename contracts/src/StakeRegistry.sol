// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRegistryCoordinator, StrategyParams} from "./Interfaces.sol";

/// @title Each operator's stake per quorum, and each quorum's total, with history by block.
/// @notice On EigenLayer the weight comes from delegated shares times strategy multipliers; here
/// the registry coordinator's owner sets each operator's weight directly (a devnet stand-in).
contract StakeRegistry {
    struct StakeUpdate {
        uint32 updateBlockNumber;
        uint32 nextUpdateBlockNumber;
        uint96 stake;
    }

    IRegistryCoordinator public immutable registryCoordinator;
    address public immutable delegation;

    mapping(uint8 quorumNumber => uint96) public minimumStakeForQuorum;
    mapping(uint8 quorumNumber => StrategyParams[]) public strategyParams;
    mapping(bytes32 operatorId => mapping(uint8 quorumNumber => StakeUpdate[])) internal
        _operatorStakeHistory;
    mapping(uint8 quorumNumber => StakeUpdate[]) internal _totalStakeHistory;
    mapping(uint8 quorumNumber => mapping(address operator => uint96)) internal _weight;
    mapping(bytes32 operatorId => mapping(uint8 quorumNumber => bool)) internal _inQuorum;

    event OperatorStakeUpdate(bytes32 indexed operatorId, uint8 quorumNumber, uint96 stake);
    event MinimumStakeForQuorumUpdated(uint8 indexed quorumNumber, uint96 minimumStake);
    event QuorumCreated(uint8 indexed quorumNumber);
    event OperatorWeightSet(uint8 indexed quorumNumber, address indexed operator, uint96 weight);

    modifier onlyRegistryCoordinator() {
        require(
            msg.sender == address(registryCoordinator),
            "StakeRegistry.onlyRegistryCoordinator: caller is not the RegistryCoordinator"
        );
        _;
    }

    modifier quorumExists(uint8 quorumNumber) {
        require(_totalStakeHistory[quorumNumber].length > 0, "StakeRegistry.quorumExists: quorum does not exist");
        _;
    }

    constructor(IRegistryCoordinator coordinator, address delegationManager) {
        registryCoordinator = coordinator;
        delegation = delegationManager;
    }

    /// @notice Start a quorum with a minimum stake and its strategies.
    function initializeQuorum(uint8 quorumNumber, uint96 minimumStake, StrategyParams[] memory params)
        external
        onlyRegistryCoordinator
    {
        require(_totalStakeHistory[quorumNumber].length == 0, "StakeRegistry.initializeQuorum: quorum already exists");
        for (uint256 i = 0; i < params.length; i++) {
            strategyParams[quorumNumber].push(params[i]);
        }
        minimumStakeForQuorum[quorumNumber] = minimumStake;
        _totalStakeHistory[quorumNumber].push(StakeUpdate(uint32(block.number), 0, 0));
        emit QuorumCreated(quorumNumber);
        emit MinimumStakeForQuorumUpdated(quorumNumber, minimumStake);
    }

    /// @notice Set `operator`'s weight in a quorum (devnet); a registered operator's stake follows.
    function setOperatorWeight(uint8 quorumNumber, address operator, uint96 weight)
        external
        quorumExists(quorumNumber)
    {
        require(
            msg.sender == registryCoordinator.owner(),
            "StakeRegistry.setOperatorWeight: caller is not the coordinator owner"
        );
        _weight[quorumNumber][operator] = weight;
        emit OperatorWeightSet(quorumNumber, operator, weight);
        bytes32 operatorId = registryCoordinator.getOperatorId(operator);
        if (operatorId != bytes32(0) && _inQuorum[operatorId][quorumNumber]) {
            _setStake(operatorId, quorumNumber, weight);
        }
    }

    /// @notice Record the stakes of a newly registered operator; each must meet the quorum minimum.
    function registerOperator(address operator, bytes32 operatorId, bytes calldata quorumNumbers)
        external
        onlyRegistryCoordinator
        returns (uint96[] memory stakes, uint96[] memory totals)
    {
        stakes = new uint96[](quorumNumbers.length);
        totals = new uint96[](quorumNumbers.length);
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            require(_totalStakeHistory[q].length > 0, "StakeRegistry.registerOperator: quorum does not exist");
            uint96 weight = _weight[q][operator];
            require(
                weight >= minimumStakeForQuorum[q],
                "StakeRegistry.registerOperator: Operator does not meet minimum stake requirement for quorum"
            );
            _inQuorum[operatorId][q] = true;
            _setStake(operatorId, q, weight);
            stakes[i] = weight;
            totals[i] = _latest(_totalStakeHistory[q]).stake;
        }
    }

    /// @notice Zero the stakes of an operator leaving `quorumNumbers`.
    function deregisterOperator(bytes32 operatorId, bytes calldata quorumNumbers)
        external
        onlyRegistryCoordinator
    {
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            _setStake(operatorId, q, 0);
            _inQuorum[operatorId][q] = false;
        }
    }

    function _setStake(bytes32 operatorId, uint8 q, uint96 stake) internal {
        StakeUpdate[] storage history = _operatorStakeHistory[operatorId][q];
        uint96 previous = history.length == 0 ? 0 : _latest(history).stake;
        if (history.length > 0 && previous == stake) {
            return;
        }
        _record(history, stake);
        uint96 total = _latest(_totalStakeHistory[q]).stake;
        _record(_totalStakeHistory[q], total - previous + stake);
        emit OperatorStakeUpdate(operatorId, q, stake);
    }

    /// @dev Append a value to a history; several updates in one block collapse into one entry.
    function _record(StakeUpdate[] storage history, uint96 stake) internal {
        if (history.length > 0) {
            StakeUpdate storage last = history[history.length - 1];
            if (last.updateBlockNumber == uint32(block.number)) {
                last.stake = stake;
                return;
            }
            last.nextUpdateBlockNumber = uint32(block.number);
        }
        history.push(StakeUpdate(uint32(block.number), 0, stake));
    }

    function _latest(StakeUpdate[] storage history) internal view returns (StakeUpdate storage) {
        return history[history.length - 1];
    }

    function _atBlock(StakeUpdate[] storage history, uint32 blockNumber)
        internal
        view
        returns (uint96)
    {
        for (uint256 i = history.length; i > 0; i--) {
            if (history[i - 1].updateBlockNumber <= blockNumber) {
                return history[i - 1].stake;
            }
        }
        return 0;
    }

    /// @notice The weight `operator` would register with in a quorum.
    function weightOfOperatorForQuorum(uint8 quorumNumber, address operator)
        external
        view
        quorumExists(quorumNumber)
        returns (uint96)
    {
        return _weight[quorumNumber][operator];
    }

    /// @notice An operator's current stake in a quorum (zero when not registered in it).
    function getCurrentStake(bytes32 operatorId, uint8 quorumNumber) external view returns (uint96) {
        StakeUpdate[] storage history = _operatorStakeHistory[operatorId][quorumNumber];
        return history.length == 0 ? 0 : _latest(history).stake;
    }

    /// @notice A quorum's current total stake.
    function getCurrentTotalStake(uint8 quorumNumber)
        external
        view
        quorumExists(quorumNumber)
        returns (uint96)
    {
        return _latest(_totalStakeHistory[quorumNumber]).stake;
    }

    /// @notice An operator's stake in a quorum at the end of `blockNumber`.
    function getStakeAtBlockNumber(bytes32 operatorId, uint8 quorumNumber, uint32 blockNumber)
        external
        view
        returns (uint96)
    {
        return _atBlock(_operatorStakeHistory[operatorId][quorumNumber], blockNumber);
    }

    /// @notice A quorum's total stake at the end of `blockNumber`.
    function getTotalStakeAtBlockNumber(uint8 quorumNumber, uint32 blockNumber)
        external
        view
        returns (uint96)
    {
        return _atBlock(_totalStakeHistory[quorumNumber], blockNumber);
    }

    /// @notice An operator's whole stake history in a quorum.
    function getStakeHistory(bytes32 operatorId, uint8 quorumNumber)
        external
        view
        returns (StakeUpdate[] memory)
    {
        return _operatorStakeHistory[operatorId][quorumNumber];
    }

    /// @notice The number of entries in a quorum's total-stake history.
    function getTotalStakeHistoryLength(uint8 quorumNumber) external view returns (uint256) {
        return _totalStakeHistory[quorumNumber].length;
    }
}
