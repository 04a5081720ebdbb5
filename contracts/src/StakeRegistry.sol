// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {
    IAllocationManager,
    IDelegationManager,
    IRegistryCoordinator,
    IStrategy,
    OperatorSet,
    StrategyParams
} from "./Interfaces.sol";

/// @title Each operator's stake per quorum, and each quorum's total, with history by block.
/// @notice As EigenLayer's: an operator's weight in a quorum is the sum, over the quorum's
/// strategies, of the shares delegated to it times the strategy's multiplier / 1e18. It is read
/// from the DelegationManager at registration and whenever `updateOperators` is called; an
/// operator below the quorum's minimum cannot register and, on update, is removed from it.
/// A quorum that is an operator set (created by the coordinator with operator sets enabled) has a
/// stake type: TOTAL_DELEGATED counts delegated shares as above; TOTAL_SLASHABLE counts only the
/// shares the AllocationManager says the set can slash over the quorum's look-ahead window.
/// Reads at a past block take an index into the history, which is checked to be the entry in
/// force at that block (find it with the `...Index...AtBlockNumber` functions).
contract StakeRegistry {
    enum StakeType {
        TOTAL_DELEGATED,
        TOTAL_SLASHABLE
    }

    struct StakeUpdate {
        uint32 updateBlockNumber;
        uint32 nextUpdateBlockNumber;
        uint96 stake;
    }

    uint256 public constant WEIGHTING_DIVISOR = 1e18;
    uint8 public constant MAX_WEIGHING_FUNCTION_LENGTH = 32;

    IRegistryCoordinator public immutable registryCoordinator;
    IDelegationManager public immutable delegation;
    /// @notice Zero where the core has no AllocationManager (M2): then no quorum is slashable.
    IAllocationManager public immutable allocationManager;

    mapping(uint8 quorumNumber => uint96) public minimumStakeForQuorum;
    mapping(uint8 quorumNumber => StrategyParams[]) public strategyParams;
    mapping(bytes32 operatorId => mapping(uint8 quorumNumber => StakeUpdate[])) internal
        _operatorStakeHistory;
    mapping(uint8 quorumNumber => StakeUpdate[]) internal _totalStakeHistory;
    mapping(uint8 quorumNumber => StakeType) public stakeTypePerQuorum;
    mapping(uint8 quorumNumber => uint32) public slashableStakeLookAheadPerQuorum;

    event OperatorStakeUpdate(bytes32 indexed operatorId, uint8 quorumNumber, uint96 stake);
    event MinimumStakeForQuorumUpdated(uint8 indexed quorumNumber, uint96 minimumStake);
    event QuorumCreated(uint8 indexed quorumNumber);
    event StrategyAddedToQuorum(uint8 indexed quorumNumber, address strategy);
    event StrategyMultiplierUpdated(uint8 indexed quorumNumber, address strategy, uint256 multiplier);
    event StakeTypeSet(StakeType newStakeType);
    event LookAheadPeriodChanged(uint32 oldLookAheadBlocks, uint32 newLookAheadBlocks);

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

    modifier onlyCoordinatorOwner() {
        require(
            msg.sender == registryCoordinator.owner(),
            "StakeRegistry.onlyCoordinatorOwner: caller is not the owner of the registryCoordinator"
        );
        _;
    }

    constructor(
        IRegistryCoordinator coordinator,
        IDelegationManager delegationManager,
        IAllocationManager allocations
    ) {
        registryCoordinator = coordinator;
        delegation = delegationManager;
        allocationManager = allocations;
    }

    /// @notice Start an M2 quorum with a minimum stake and its strategies.
    function initializeQuorum(uint8 quorumNumber, uint96 minimumStake, StrategyParams[] memory params)
        external
        onlyRegistryCoordinator
    {
        _initializeQuorum(quorumNumber, minimumStake, params);
    }

    /// @notice Start an operator-set quorum weighing delegated shares.
    function initializeDelegatedStakeQuorum(
        uint8 quorumNumber,
        uint96 minimumStake,
        StrategyParams[] memory params
    ) external onlyRegistryCoordinator {
        _initializeQuorum(quorumNumber, minimumStake, params);
        _setStakeType(quorumNumber, StakeType.TOTAL_DELEGATED);
    }

    /// @notice Start an operator-set quorum weighing slashable stake over `lookAheadPeriod` blocks.
    function initializeSlashableStakeQuorum(
        uint8 quorumNumber,
        uint96 minimumStake,
        uint32 lookAheadPeriod,
        StrategyParams[] memory params
    ) external onlyRegistryCoordinator {
        _initializeQuorum(quorumNumber, minimumStake, params);
        _setStakeType(quorumNumber, StakeType.TOTAL_SLASHABLE);
        _setLookAhead(quorumNumber, lookAheadPeriod);
    }

    /// @notice Change a slashable quorum's look-ahead window (the coordinator's owner).
    function setSlashableStakeLookahead(uint8 quorumNumber, uint32 lookAheadPeriod)
        external
        onlyCoordinatorOwner
        quorumExists(quorumNumber)
    {
        _setLookAhead(quorumNumber, lookAheadPeriod);
    }

    function _setStakeType(uint8 quorumNumber, StakeType stakeType) internal {
        stakeTypePerQuorum[quorumNumber] = stakeType;
        emit StakeTypeSet(stakeType);
    }

    function _setLookAhead(uint8 quorumNumber, uint32 lookAheadPeriod) internal {
        emit LookAheadPeriodChanged(slashableStakeLookAheadPerQuorum[quorumNumber], lookAheadPeriod);
        slashableStakeLookAheadPerQuorum[quorumNumber] = lookAheadPeriod;
    }

    function _initializeQuorum(uint8 quorumNumber, uint96 minimumStake, StrategyParams[] memory params)
        internal
    {
        require(_totalStakeHistory[quorumNumber].length == 0, "StakeRegistry.initializeQuorum: quorum already exists");
        require(params.length > 0, "StakeRegistry._addStrategyParams: no strategies provided");
        require(
            params.length <= MAX_WEIGHING_FUNCTION_LENGTH,
            "StakeRegistry._addStrategyParams: exceed MAX_WEIGHING_FUNCTION_LENGTH"
        );
        for (uint256 i = 0; i < params.length; i++) {
            for (uint256 j = 0; j < i; j++) {
                require(
                    params[j].strategy != params[i].strategy,
                    "StakeRegistry._addStrategyParams: cannot add same strategy 2x"
                );
            }
            require(params[i].multiplier > 0, "StakeRegistry._addStrategyParams: cannot add strategy with zero weight");
            strategyParams[quorumNumber].push(params[i]);
            emit StrategyAddedToQuorum(quorumNumber, address(params[i].strategy));
            emit StrategyMultiplierUpdated(quorumNumber, address(params[i].strategy), params[i].multiplier);
        }
        _setMinimumStake(quorumNumber, minimumStake);
        _totalStakeHistory[quorumNumber].push(StakeUpdate(uint32(block.number), 0, 0));
        emit QuorumCreated(quorumNumber);
    }

    /// @notice Change a quorum's minimum stake (the coordinator's owner); takes effect for each
    /// operator at its next registration or `updateOperators`.
    function setMinimumStakeForQuorum(uint8 quorumNumber, uint96 minimumStake)
        external
        onlyCoordinatorOwner
        quorumExists(quorumNumber)
    {
        _setMinimumStake(quorumNumber, minimumStake);
    }

    function _setMinimumStake(uint8 quorumNumber, uint96 minimumStake) internal {
        minimumStakeForQuorum[quorumNumber] = minimumStake;
        emit MinimumStakeForQuorumUpdated(quorumNumber, minimumStake);
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
            (uint96 weight, bool meetsMinimum) = _weightOfOperatorForQuorum(q, operator);
            require(
                meetsMinimum,
                "StakeRegistry.registerOperator: Operator does not meet minimum stake requirement for quorum"
            );
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
            require(_totalStakeHistory[q].length > 0, "StakeRegistry.deregisterOperator: quorum does not exist");
            _setStake(operatorId, q, 0);
        }
    }

    /// @notice Re-read a registered operator's weight in each of `quorumNumbers`. Returns the
    /// bitmap of quorums where it is now below the minimum (its stake there is set to 0, and the
    /// coordinator removes it from them).
    function updateOperatorStake(address operator, bytes32 operatorId, bytes calldata quorumNumbers)
        external
        onlyRegistryCoordinator
        returns (uint192 quorumsToRemove)
    {
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            require(_totalStakeHistory[q].length > 0, "StakeRegistry.updateOperatorStake: quorum does not exist");
            (uint96 weight, bool meetsMinimum) = _weightOfOperatorForQuorum(q, operator);
            if (!meetsMinimum) {
                weight = 0;
                quorumsToRemove |= uint192(1) << q;
            }
            _setStake(operatorId, q, weight);
        }
    }

    function _weightOfOperatorForQuorum(uint8 q, address operator)
        internal
        view
        returns (uint96 weight, bool meetsMinimum)
    {
        StrategyParams[] storage params = strategyParams[q];
        uint256[] memory shares = stakeTypePerQuorum[q] == StakeType.TOTAL_SLASHABLE
            ? _slashableShares(q, operator, params)
            : _delegatedShares(operator, params);
        uint256 sum = 0;
        for (uint256 i = 0; i < params.length; i++) {
            sum += shares[i] * params[i].multiplier / WEIGHTING_DIVISOR;
        }
        weight = uint96(sum);
        meetsMinimum = weight >= minimumStakeForQuorum[q];
    }

    function _delegatedShares(address operator, StrategyParams[] storage params)
        internal
        view
        returns (uint256[] memory shares)
    {
        shares = new uint256[](params.length);
        for (uint256 i = 0; i < params.length; i++) {
            shares[i] = delegation.operatorShares(operator, params[i].strategy);
        }
    }

    /// @dev The shares the quorum's operator set can slash from now to the end of the window.
    function _slashableShares(uint8 q, address operator, StrategyParams[] storage params)
        internal
        view
        returns (uint256[] memory)
    {
        IStrategy[] memory strategies = new IStrategy[](params.length);
        for (uint256 i = 0; i < params.length; i++) {
            strategies[i] = params[i].strategy;
        }
        address[] memory operators = new address[](1);
        operators[0] = operator;
        uint32 until = uint32(block.number) + slashableStakeLookAheadPerQuorum[q];
        OperatorSet memory operatorSet = OperatorSet(registryCoordinator.avs(), q);
        return allocationManager.getMinimumSlashableStake(operatorSet, operators, strategies, until)[0];
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

    /// @dev The index of the entry in force at the end of `blockNumber`; reverts with `why` if
    /// the history starts after it.
    function _indexAt(StakeUpdate[] storage history, uint32 blockNumber, string memory why)
        internal
        view
        returns (uint32)
    {
        for (uint256 i = history.length; i > 0; i--) {
            if (history[i - 1].updateBlockNumber <= blockNumber) {
                return uint32(i - 1);
            }
        }
        revert(why);
    }

    /// @dev Revert unless `update` was the entry in force at the end of `blockNumber`.
    function _validateStakeUpdateAtBlockNumber(StakeUpdate memory update, uint32 blockNumber)
        internal
        pure
    {
        require(
            update.updateBlockNumber <= blockNumber,
            "StakeRegistry._validateStakeUpdateAtBlockNumber: stakeUpdate is from after blockNumber"
        );
        require(
            update.nextUpdateBlockNumber == 0 || update.nextUpdateBlockNumber > blockNumber,
            "StakeRegistry._validateStakeUpdateAtBlockNumber: there is a newer stakeUpdate available before blockNumber"
        );
    }

    /// @notice The weight `operator` has (or would register with) in a quorum now.
    function weightOfOperatorForQuorum(uint8 quorumNumber, address operator)
        external
        view
        quorumExists(quorumNumber)
        returns (uint96 weight)
    {
        (weight,) = _weightOfOperatorForQuorum(quorumNumber, operator);
    }

    /// @notice How many strategies a quorum counts.
    function strategyParamsLength(uint8 quorumNumber) external view returns (uint256) {
        return strategyParams[quorumNumber].length;
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

    /// @notice An operator's stake in a quorum at the end of `blockNumber` (0 before its first).
    function getStakeAtBlockNumber(bytes32 operatorId, uint8 quorumNumber, uint32 blockNumber)
        external
        view
        returns (uint96)
    {
        StakeUpdate[] storage history = _operatorStakeHistory[operatorId][quorumNumber];
        for (uint256 i = history.length; i > 0; i--) {
            if (history[i - 1].updateBlockNumber <= blockNumber) {
                return history[i - 1].stake;
            }
        }
        return 0;
    }

    /// @notice The index of the operator's stake entry in force at the end of `blockNumber`.
    function getStakeUpdateIndexAtBlockNumber(bytes32 operatorId, uint8 quorumNumber, uint32 blockNumber)
        external
        view
        returns (uint32)
    {
        return _indexAt(
            _operatorStakeHistory[operatorId][quorumNumber],
            blockNumber,
            "StakeRegistry._getStakeUpdateIndexForOperatorAtBlockNumber: no stake update found for operatorId and quorumNumber at block number"
        );
    }

    /// @notice For each quorum, the index of its total-stake entry in force at `blockNumber`.
    function getTotalStakeIndicesAtBlockNumber(uint32 blockNumber, bytes calldata quorumNumbers)
        external
        view
        returns (uint32[] memory indices)
    {
        indices = new uint32[](quorumNumbers.length);
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            require(_totalStakeHistory[q].length > 0, "StakeRegistry.getTotalStakeIndicesAtBlockNumber: quorum does not exist");
            indices[i] = _indexAt(
                _totalStakeHistory[q],
                blockNumber,
                "StakeRegistry.getTotalStakeIndicesAtBlockNumber: quorum has no stake history at blockNumber"
            );
        }
    }

    /// @notice An operator's stake at `blockNumber`, from history entry `index` (checked).
    function getStakeAtBlockNumberAndIndex(
        uint8 quorumNumber,
        uint32 blockNumber,
        bytes32 operatorId,
        uint256 index
    ) external view returns (uint96) {
        StakeUpdate memory update = _operatorStakeHistory[operatorId][quorumNumber][index];
        _validateStakeUpdateAtBlockNumber(update, blockNumber);
        return update.stake;
    }

    /// @notice A quorum's total stake at `blockNumber`, from history entry `index` (checked).
    function getTotalStakeAtBlockNumberFromIndex(uint8 quorumNumber, uint32 blockNumber, uint256 index)
        external
        view
        returns (uint96)
    {
        StakeUpdate memory update = _totalStakeHistory[quorumNumber][index];
        _validateStakeUpdateAtBlockNumber(update, blockNumber);
        return update.stake;
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
