// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {
    CreateSetParamsV2,
    DeregisterParams,
    IAVSRegistrar,
    IDelegationManager,
    IDelegationSharesReader,
    IPermissionController,
    IStrategy,
    OperatorSet
} from "./Interfaces.sol";

/// @title EigenLayer's AllocationManager (the current core): operator sets, the magnitudes an
/// operator allocates to them, and registration into them through the AVS's registrar.
/// @notice The same functions, checks, check order, custom errors and events as EigenLayer's for
/// everything an operator, an AVS and its middleware call. An operator allocates a magnitude (a
/// fraction of its shares in a strategy, out of 1e18) to an operator set; it takes effect after
/// the operator's allocation delay. A reduction takes effect DEALLOCATION_DELAY + 1 blocks later
/// while the operator is slashable by that set, at once otherwise. Registration does not look at
/// allocations: the registrar (the AVS's registry coordinator) decides what stake it needs.
/// Not modelled: slashing (so the maximum magnitude stays 1e18), pausing, proxies, adding or
/// removing strategies after a set is created, and redistribution.
contract AllocationManager {
    struct AllocateParams {
        OperatorSet operatorSet;
        IStrategy[] strategies;
        uint64[] newMagnitudes;
    }

    struct RegisterParams {
        address avs;
        uint32[] operatorSetIds;
        bytes data;
    }

    struct CreateSetParams {
        uint32 operatorSetId;
        IStrategy[] strategies;
    }

    struct Allocation {
        uint64 currentMagnitude;
        int128 pendingDiff;
        uint32 effectBlock;
    }

    struct AllocationDelayInfo {
        uint32 delay;
        bool isSet;
        uint32 pendingDelay;
        uint32 effectBlock;
    }

    struct RegistrationStatus {
        bool registered;
        uint32 slashableUntil;
    }

    uint64 internal constant WAD = 1e18;

    IDelegationManager public immutable delegation;
    IPermissionController public immutable permissionController;
    uint32 public immutable DEALLOCATION_DELAY;
    uint32 public immutable ALLOCATION_CONFIGURATION_DELAY;

    mapping(address operator => AllocationDelayInfo) internal _allocationDelayInfo;
    mapping(address avs => bool) internal _avsRegisteredMetadata;
    mapping(address avs => IAVSRegistrar) internal _avsRegistrar;

    mapping(bytes32 setKey => bool) internal _setExists;
    mapping(bytes32 setKey => IStrategy[]) internal _setStrategies;
    mapping(bytes32 setKey => mapping(IStrategy strategy => bool)) internal _strategyInSet;
    mapping(bytes32 setKey => address) internal _slasher;

    mapping(bytes32 setKey => address[]) internal _members;
    mapping(bytes32 setKey => mapping(address operator => uint256)) internal _memberPosition;
    mapping(address operator => bytes32[]) internal _registeredSets;
    mapping(address operator => mapping(bytes32 setKey => uint256)) internal _registeredPosition;
    mapping(address operator => mapping(bytes32 setKey => RegistrationStatus)) internal _registration;

    mapping(address operator => mapping(bytes32 setKey => mapping(IStrategy strategy => Allocation)))
        internal _allocations;
    mapping(address operator => mapping(IStrategy strategy => uint64)) internal _encumbered;
    mapping(address operator => mapping(IStrategy strategy => bytes32[])) internal _deallocationQueue;
    mapping(address operator => mapping(IStrategy strategy => uint256)) internal _queueHead;

    event AllocationDelaySet(address operator, uint32 delay, uint32 effectBlock);
    event AllocationUpdated(
        address operator, OperatorSet operatorSet, IStrategy strategy, uint64 magnitude, uint32 effectBlock
    );
    event EncumberedMagnitudeUpdated(address operator, IStrategy strategy, uint64 encumberedMagnitude);
    event AVSMetadataURIUpdated(address indexed avs, string metadataURI);
    event AVSRegistrarSet(address avs, IAVSRegistrar registrar);
    event OperatorSetCreated(OperatorSet operatorSet);
    event StrategyAddedToOperatorSet(OperatorSet operatorSet, IStrategy strategy);
    event SlasherUpdated(OperatorSet operatorSet, address slasher, uint32 effectBlock);
    event OperatorAddedToOperatorSet(address indexed operator, OperatorSet operatorSet);
    event OperatorRemovedFromOperatorSet(address indexed operator, OperatorSet operatorSet);

    error InvalidPermissions();
    error InvalidCaller();
    error InvalidOperator();
    error InvalidOperatorSet();
    error UninitializedAllocationDelay();
    error InputArrayLengthMismatch();
    error ModificationAlreadyPending();
    error SameMagnitude();
    error InsufficientMagnitude();
    error AlreadyMemberOfSet();
    error NotMemberOfSet();
    error NonexistentAVSMetadata();
    error InvalidAVSRegistrar();
    error StrategyAlreadyInOperatorSet();
    error InputAddressZero();

    modifier checkCanCall(address account) {
        require(_canCall(account), InvalidPermissions());
        _;
    }

    constructor(
        IDelegationManager delegationManager,
        IPermissionController permissions,
        uint32 deallocationDelay,
        uint32 allocationConfigurationDelay
    ) {
        delegation = delegationManager;
        permissionController = permissions;
        DEALLOCATION_DELAY = deallocationDelay;
        ALLOCATION_CONFIGURATION_DELAY = allocationConfigurationDelay;
    }

    // ----------------------------------------------------------------------------------------
    // Operators: allocation delay, allocations, registration

    /// @notice Set `operator`'s allocation delay. From the DelegationManager (a new operator) it
    /// holds at once; otherwise (the operator or its appointee) it holds after
    /// ALLOCATION_CONFIGURATION_DELAY + 1 blocks.
    function setAllocationDelay(address operator, uint32 delay) external {
        bool newlyRegistered = msg.sender == address(delegation);
        if (!newlyRegistered) {
            require(_canCall(operator), InvalidPermissions());
            require(delegation.isOperator(operator), InvalidOperator());
        }
        AllocationDelayInfo memory info = _allocationDelayInfo[operator];
        if (info.effectBlock != 0 && block.number >= info.effectBlock) {
            info.delay = info.pendingDelay;
            info.isSet = true;
        }
        info.pendingDelay = delay;
        if (newlyRegistered) {
            info.delay = delay;
            info.isSet = true;
            info.effectBlock = uint32(block.number);
        } else {
            info.effectBlock = uint32(block.number) + ALLOCATION_CONFIGURATION_DELAY + 1;
        }
        _allocationDelayInfo[operator] = info;
        emit AllocationDelaySet(operator, delay, info.effectBlock);
    }

    /// @notice Raise or lower `operator`'s magnitudes in operator sets, strategy by strategy.
    function modifyAllocations(address operator, AllocateParams[] calldata params) external {
        require(_canCall(operator), InvalidPermissions());
        (bool isSet, uint32 delay) = getAllocationDelay(operator);
        require(isSet, UninitializedAllocationDelay());
        for (uint256 i = 0; i < params.length; i++) {
            AllocateParams calldata p = params[i];
            require(p.strategies.length == p.newMagnitudes.length, InputArrayLengthMismatch());
            bytes32 key = _key(p.operatorSet);
            require(_setExists[key], InvalidOperatorSet());
            bool slashable = isOperatorSlashable(operator, p.operatorSet);
            for (uint256 j = 0; j < p.strategies.length; j++) {
                _modify(operator, p.operatorSet, key, p.strategies[j], p.newMagnitudes[j], slashable, delay);
            }
        }
    }

    function _modify(
        address operator,
        OperatorSet calldata operatorSet,
        bytes32 key,
        IStrategy strategy,
        uint64 magnitude,
        bool slashable,
        uint32 delay
    ) internal {
        _clearDeallocationQueue(operator, strategy);
        Allocation memory a = _updated(_allocations[operator][key][strategy]);
        require(a.pendingDiff == 0, ModificationAlreadyPending());
        require(magnitude != a.currentMagnitude, SameMagnitude());
        int128 diff = int128(uint128(magnitude)) - int128(uint128(a.currentMagnitude));
        uint64 encumbered = _encumbered[operator][strategy];
        if (diff < 0) {
            if (slashable && _strategyInSet[key][strategy] && a.currentMagnitude != 0) {
                a.pendingDiff = diff;
                a.effectBlock = uint32(block.number) + DEALLOCATION_DELAY + 1;
                _deallocationQueue[operator][strategy].push(key);
            } else {
                encumbered -= uint64(uint128(-diff));
                a.currentMagnitude = magnitude;
                a.pendingDiff = 0;
                a.effectBlock = uint32(block.number);
            }
        } else {
            encumbered += uint64(uint128(diff));
            require(encumbered <= WAD, InsufficientMagnitude());
            a.pendingDiff = diff;
            a.effectBlock = uint32(block.number) + delay;
        }
        _allocations[operator][key][strategy] = a;
        emit AllocationUpdated(operator, operatorSet, strategy, magnitude, a.effectBlock);
        if (encumbered != _encumbered[operator][strategy]) {
            _encumbered[operator][strategy] = encumbered;
            emit EncumberedMagnitudeUpdated(operator, strategy, encumbered);
        }
    }

    /// @dev Complete the deallocations of (operator, strategy) whose effect block has come, oldest
    /// first, freeing their magnitude.
    function _clearDeallocationQueue(address operator, IStrategy strategy) internal {
        bytes32[] storage queue = _deallocationQueue[operator][strategy];
        uint256 head = _queueHead[operator][strategy];
        uint64 encumbered = _encumbered[operator][strategy];
        while (head < queue.length) {
            Allocation storage a = _allocations[operator][queue[head]][strategy];
            if (a.pendingDiff >= 0 || block.number < a.effectBlock) {
                if (a.pendingDiff < 0) {
                    break;
                }
                head++;
                continue;
            }
            encumbered -= uint64(uint128(-a.pendingDiff));
            a.currentMagnitude = uint64(uint128(int128(uint128(a.currentMagnitude)) + a.pendingDiff));
            a.pendingDiff = 0;
            head++;
        }
        _queueHead[operator][strategy] = head;
        if (encumbered != _encumbered[operator][strategy]) {
            _encumbered[operator][strategy] = encumbered;
            emit EncumberedMagnitudeUpdated(operator, strategy, encumbered);
        }
    }

    /// @notice Join `params.avs`'s operator sets `params.operatorSetIds`; the AVS's registrar is
    /// called with `params.data` and may refuse (its revert is this call's revert).
    function registerForOperatorSets(address operator, RegisterParams calldata params) external {
        require(_canCall(operator), InvalidPermissions());
        require(delegation.isOperator(operator), InvalidOperator());
        for (uint256 i = 0; i < params.operatorSetIds.length; i++) {
            OperatorSet memory operatorSet = OperatorSet(params.avs, params.operatorSetIds[i]);
            bytes32 key = _key(operatorSet);
            require(_setExists[key], InvalidOperatorSet());
            require(!isOperatorSlashable(operator, operatorSet), AlreadyMemberOfSet());
            _members[key].push(operator);
            _memberPosition[key][operator] = _members[key].length;
            _registeredSets[operator].push(key);
            _registeredPosition[operator][key] = _registeredSets[operator].length;
            _registration[operator][key] = RegistrationStatus(true, 0);
            emit OperatorAddedToOperatorSet(operator, operatorSet);
        }
        getAVSRegistrar(params.avs).registerOperator(operator, params.avs, params.operatorSetIds, params.data);
    }

    /// @notice Leave operator sets (the operator, the AVS, or an appointee of either). The
    /// operator stays slashable by them for DEALLOCATION_DELAY blocks and cannot rejoin before.
    function deregisterFromOperatorSets(DeregisterParams calldata params) external {
        require(_canCall(params.operator) || _canCall(params.avs), InvalidCaller());
        for (uint256 i = 0; i < params.operatorSetIds.length; i++) {
            OperatorSet memory operatorSet = OperatorSet(params.avs, params.operatorSetIds[i]);
            bytes32 key = _key(operatorSet);
            require(_setExists[key], InvalidOperatorSet());
            require(_registration[params.operator][key].registered, NotMemberOfSet());
            _remove(_members[key], _memberPosition[key], params.operator);
            _removeKey(params.operator, key);
            _registration[params.operator][key] =
                RegistrationStatus(false, uint32(block.number) + DEALLOCATION_DELAY);
            emit OperatorRemovedFromOperatorSet(params.operator, operatorSet);
        }
        getAVSRegistrar(params.avs).deregisterOperator(params.operator, params.avs, params.operatorSetIds);
    }

    function _remove(address[] storage list, mapping(address => uint256) storage position, address who)
        internal
    {
        uint256 at = position[who] - 1;
        address last = list[list.length - 1];
        list[at] = last;
        position[last] = at + 1;
        list.pop();
        delete position[who];
    }

    function _removeKey(address operator, bytes32 key) internal {
        bytes32[] storage list = _registeredSets[operator];
        uint256 at = _registeredPosition[operator][key] - 1;
        bytes32 last = list[list.length - 1];
        list[at] = last;
        _registeredPosition[operator][last] = at + 1;
        list.pop();
        delete _registeredPosition[operator][key];
    }

    // ----------------------------------------------------------------------------------------
    // AVSs: metadata, registrar, operator sets

    /// @notice Announce the AVS's metadata; an AVS must do this before creating operator sets.
    function updateAVSMetadataURI(address avs, string calldata metadataURI) external checkCanCall(avs) {
        _avsRegisteredMetadata[avs] = true;
        emit AVSMetadataURIUpdated(avs, metadataURI);
    }

    /// @notice Name the contract the AllocationManager calls when operators join or leave the
    /// AVS's sets; it must say it supports the AVS.
    function setAVSRegistrar(address avs, IAVSRegistrar registrar) external checkCanCall(avs) {
        require(registrar.supportsAVS(avs), InvalidAVSRegistrar());
        _avsRegistrar[avs] = registrar;
        emit AVSRegistrarSet(avs, registrar);
    }

    /// @notice Create operator sets whose slasher is the AVS itself.
    function createOperatorSets(address avs, CreateSetParams[] calldata params) external checkCanCall(avs) {
        CreateSetParamsV2[] memory full = new CreateSetParamsV2[](params.length);
        for (uint256 i = 0; i < params.length; i++) {
            full[i] = CreateSetParamsV2(params[i].operatorSetId, params[i].strategies, avs);
        }
        _createOperatorSets(avs, full);
    }

    /// @notice Create operator sets, each with its strategies and slasher.
    function createOperatorSets(address avs, CreateSetParamsV2[] memory params) public checkCanCall(avs) {
        _createOperatorSets(avs, params);
    }

    function _createOperatorSets(address avs, CreateSetParamsV2[] memory params) internal {
        require(_avsRegisteredMetadata[avs], NonexistentAVSMetadata());
        for (uint256 i = 0; i < params.length; i++) {
            require(params[i].slasher != address(0), InputAddressZero());
            OperatorSet memory operatorSet = OperatorSet(avs, params[i].operatorSetId);
            bytes32 key = _key(operatorSet);
            require(!_setExists[key], InvalidOperatorSet());
            _setExists[key] = true;
            emit OperatorSetCreated(operatorSet);
            for (uint256 j = 0; j < params[i].strategies.length; j++) {
                IStrategy strategy = params[i].strategies[j];
                require(!_strategyInSet[key][strategy], StrategyAlreadyInOperatorSet());
                _strategyInSet[key][strategy] = true;
                _setStrategies[key].push(strategy);
                emit StrategyAddedToOperatorSet(operatorSet, strategy);
            }
            _slasher[key] = params[i].slasher;
            emit SlasherUpdated(operatorSet, params[i].slasher, uint32(block.number));
        }
    }

    // ----------------------------------------------------------------------------------------
    // Views

    /// @notice `operator`'s allocation delay, with a pending one applied once its block has come.
    function getAllocationDelay(address operator) public view returns (bool isSet, uint32 delay) {
        AllocationDelayInfo memory info = _allocationDelayInfo[operator];
        if (info.effectBlock != 0 && block.number >= info.effectBlock) {
            return (true, info.pendingDelay);
        }
        return (info.isSet, info.delay);
    }

    /// @notice `operator`'s allocation to a set in a strategy, a due change applied.
    function getAllocation(address operator, OperatorSet memory operatorSet, IStrategy strategy)
        public
        view
        returns (Allocation memory)
    {
        return _updated(_allocations[operator][_key(operatorSet)][strategy]);
    }

    /// @notice The magnitude `operator` can still allocate in `strategy`.
    function getAllocatableMagnitude(address operator, IStrategy strategy) external view returns (uint64) {
        uint64 free = WAD - _encumbered[operator][strategy];
        bytes32[] storage queue = _deallocationQueue[operator][strategy];
        for (uint256 i = _queueHead[operator][strategy]; i < queue.length; i++) {
            Allocation storage a = _allocations[operator][queue[i]][strategy];
            if (a.pendingDiff < 0 && block.number >= a.effectBlock) {
                free += uint64(uint128(-a.pendingDiff));
            }
        }
        return free;
    }

    /// @notice The most `operator` can allocate in `strategy` in total (1e18 while unslashed).
    function getMaxMagnitude(address, IStrategy) external pure returns (uint64) {
        return WAD;
    }

    /// @notice The magnitude of `operator` in `strategy` that is allocated or still pending release.
    function getEncumberedMagnitude(address operator, IStrategy strategy) external view returns (uint64) {
        return _encumbered[operator][strategy];
    }

    /// @notice Whether the operator set exists.
    function isOperatorSet(OperatorSet memory operatorSet) external view returns (bool) {
        return _setExists[_key(operatorSet)];
    }

    /// @notice The strategies of an operator set.
    function getStrategiesInOperatorSet(OperatorSet memory operatorSet)
        external
        view
        returns (IStrategy[] memory)
    {
        return _setStrategies[_key(operatorSet)];
    }

    /// @notice Whether `operator` is registered in the set now.
    function isMemberOfOperatorSet(address operator, OperatorSet memory operatorSet)
        public
        view
        returns (bool)
    {
        return _registration[operator][_key(operatorSet)].registered;
    }

    /// @notice Whether the set may slash `operator`: registered, or left less than
    /// DEALLOCATION_DELAY blocks ago.
    function isOperatorSlashable(address operator, OperatorSet memory operatorSet)
        public
        view
        returns (bool)
    {
        RegistrationStatus memory status = _registration[operator][_key(operatorSet)];
        return status.registered || block.number <= status.slashableUntil;
    }

    /// @notice The sets `operator` is registered in.
    function getRegisteredSets(address operator) external view returns (OperatorSet[] memory sets) {
        bytes32[] storage keys = _registeredSets[operator];
        sets = new OperatorSet[](keys.length);
        for (uint256 i = 0; i < keys.length; i++) {
            sets[i] = OperatorSet(address(uint160(uint256(keys[i]) >> 96)), uint32(uint256(keys[i])));
        }
    }

    /// @notice The operators registered in a set.
    function getMembers(OperatorSet memory operatorSet) external view returns (address[] memory) {
        return _members[_key(operatorSet)];
    }

    /// @notice How many operators are registered in a set.
    function getMemberCount(OperatorSet memory operatorSet) external view returns (uint256) {
        return _members[_key(operatorSet)].length;
    }

    /// @notice The AVS's registrar (the AVS itself when it named none).
    function getAVSRegistrar(address avs) public view returns (IAVSRegistrar) {
        IAVSRegistrar registrar = _avsRegistrar[avs];
        return address(registrar) == address(0) ? IAVSRegistrar(avs) : registrar;
    }

    /// @notice Each operator's stake in each strategy that the set can slash at every block from
    /// now to `futureBlock`: pending allocations do not count, deallocations due by then do, and
    /// an operator the set cannot slash has none.
    function getMinimumSlashableStake(
        OperatorSet memory operatorSet,
        address[] memory operators,
        IStrategy[] memory strategies,
        uint32 futureBlock
    ) external view returns (uint256[][] memory slashableStake) {
        slashableStake = _allocatedStake(operatorSet, operators, strategies, futureBlock);
        for (uint256 i = 0; i < operators.length; i++) {
            if (!isOperatorSlashable(operators[i], operatorSet)) {
                slashableStake[i] = new uint256[](strategies.length);
            }
        }
    }

    /// @notice Each operator's stake in each strategy allocated to the set now.
    function getAllocatedStake(
        OperatorSet memory operatorSet,
        address[] memory operators,
        IStrategy[] memory strategies
    ) external view returns (uint256[][] memory) {
        return _allocatedStake(operatorSet, operators, strategies, uint32(block.number));
    }

    function _allocatedStake(
        OperatorSet memory operatorSet,
        address[] memory operators,
        IStrategy[] memory strategies,
        uint32 futureBlock
    ) internal view returns (uint256[][] memory stake) {
        uint256[][] memory shares =
            IDelegationSharesReader(address(delegation)).getOperatorsShares(operators, strategies);
        bytes32 key = _key(operatorSet);
        stake = new uint256[][](operators.length);
        for (uint256 i = 0; i < operators.length; i++) {
            stake[i] = new uint256[](strategies.length);
            for (uint256 j = 0; j < strategies.length; j++) {
                Allocation memory a = _updated(_allocations[operators[i]][key][strategies[j]]);
                uint256 magnitude = a.currentMagnitude;
                if (a.effectBlock <= futureBlock && a.pendingDiff < 0) {
                    magnitude -= uint256(uint128(-a.pendingDiff));
                }
                stake[i][j] = shares[i][j] * magnitude / WAD;
            }
        }
    }

    // ----------------------------------------------------------------------------------------

    /// @dev A change whose effect block has come is applied.
    function _updated(Allocation memory a) internal view returns (Allocation memory) {
        if (a.pendingDiff != 0 && block.number >= a.effectBlock) {
            a.currentMagnitude = uint64(uint128(int128(uint128(a.currentMagnitude)) + a.pendingDiff));
            a.pendingDiff = 0;
        }
        return a;
    }

    function _key(OperatorSet memory operatorSet) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(operatorSet.avs)) << 96 | uint256(operatorSet.id));
    }

    function _canCall(address account) internal view returns (bool) {
        return permissionController.canCall(account, msg.sender, address(this), msg.sig);
    }
}
