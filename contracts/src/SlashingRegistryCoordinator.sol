// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {BN254} from "./BN254.sol";
import {
    CreateSetParamsV2,
    DeregisterParams,
    IAllocationManager,
    IBLSApkRegistry,
    IIndexRegistry,
    ISocketRegistry,
    IStakeRegistry,
    IStrategy,
    OperatorSetParam,
    PubkeyRegistrationParams,
    QuorumBitmaps,
    StrategyParams
} from "./Interfaces.sol";

/// @title The registry coordinator of an operator-set AVS, as EigenLayer's middleware
/// SlashingRegistryCoordinator: every quorum is operator set (avs, quorum number) of EigenLayer's
/// AllocationManager, which operators join and leave through the AllocationManager; this contract
/// is the AVS's registrar (the AllocationManager calls it back). A quorum counts delegated stake
/// or slashable stake over a look-ahead window. Also sockets, and each operator's quorum history.
/// @notice Churn and ejection are not modelled (an AVS removes an operator through the
/// AllocationManager); the registrar accepts NORMAL registrations only.
contract SlashingRegistryCoordinator {
    enum OperatorStatus {
        NEVER_REGISTERED,
        REGISTERED,
        DEREGISTERED
    }

    enum RegistrationType {
        NORMAL,
        CHURN
    }

    struct OperatorInfo {
        bytes32 operatorId;
        OperatorStatus status;
    }

    struct QuorumBitmapUpdate {
        uint32 updateBlockNumber;
        uint32 nextUpdateBlockNumber;
        uint192 quorumBitmap;
    }

    bytes32 public constant PUBKEY_REGISTRATION_TYPEHASH =
        keccak256("BN254PubkeyRegistration(address operator)");
    bytes32 internal constant EIP712_DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    uint8 internal constant MAX_QUORUM_COUNT = 192;
    /// @notice The slasher named for delegated-stake operator sets, which nobody can slash.
    address public constant DELEGATED_STAKE_SLASHER = 0x00000000000000000000000000000000000E16E4;

    address public owner;
    IBLSApkRegistry public blsApkRegistry;
    IStakeRegistry public stakeRegistry;
    IIndexRegistry public indexRegistry;
    ISocketRegistry public socketRegistry;
    /// @notice Zero where the core has no AllocationManager (M2): then only M2 quorums exist.
    IAllocationManager public allocationManager;
    /// @notice The AVS whose operator sets the quorums are (its service manager).
    address public avs;
    uint8 public quorumCount;

    mapping(uint8 quorumNumber => OperatorSetParam) internal _quorumParams;
    mapping(bytes32 operatorId => QuorumBitmapUpdate[]) internal _operatorBitmapHistory;
    mapping(address operator => OperatorInfo) internal _operatorInfo;

    event OperatorRegistered(address indexed operator, bytes32 indexed operatorId);
    event OperatorDeregistered(address indexed operator, bytes32 indexed operatorId);
    event OperatorSocketUpdate(bytes32 indexed operatorId, string socket);
    event OperatorSetParamsUpdated(uint8 indexed quorumNumber, OperatorSetParam operatorSetParams);

    error OnlyAllocationManager();
    error InvalidAVS();
    error InvalidRegistrationType();
    error OperatorSetsNotEnabled();
    error LookAheadPeriodTooLong();

    modifier onlyOwner() {
        require(msg.sender == owner, "RegistryCoordinator: caller is not the owner");
        _;
    }

    modifier onlyAllocationManager() {
        require(msg.sender == address(allocationManager), OnlyAllocationManager());
        _;
    }

    constructor(address initialOwner) {
        owner = initialOwner;
    }

    /// @notice Wire the AVS's contracts together once (they all point back at this contract).
    /// @dev `socketRegistry_` may be zero: EigenLayer's M2 middleware has no socket registry.
    /// `allocations` may be zero: an M2 core has no AllocationManager (then only the M2 form's
    /// `createQuorum` makes quorums).
    function initialize(
        IBLSApkRegistry blsApkRegistry_,
        IStakeRegistry stakeRegistry_,
        IIndexRegistry indexRegistry_,
        ISocketRegistry socketRegistry_,
        IAllocationManager allocations,
        address avs_
    ) external onlyOwner {
        require(avs == address(0), "RegistryCoordinator.initialize: already initialized");
        blsApkRegistry = blsApkRegistry_;
        stakeRegistry = stakeRegistry_;
        indexRegistry = indexRegistry_;
        socketRegistry = socketRegistry_;
        allocationManager = allocations;
        avs = avs_;
    }

    /// @notice Create an operator-set quorum whose stake is the operators' delegated shares.
    function createTotalDelegatedStakeQuorum(
        OperatorSetParam memory operatorSetParams,
        uint96 minimumStake,
        StrategyParams[] memory strategyParams
    ) external onlyOwner {
        uint8 quorumNumber = _newOperatorSetQuorum(operatorSetParams);
        stakeRegistry.initializeDelegatedStakeQuorum(quorumNumber, minimumStake, strategyParams);
        _createOperatorSet(quorumNumber, strategyParams, DELEGATED_STAKE_SLASHER);
    }

    /// @notice Create an operator-set quorum whose stake is what the set can slash over the next
    /// `lookAheadPeriod` blocks (at most the AllocationManager's DEALLOCATION_DELAY).
    function createSlashableStakeQuorum(
        OperatorSetParam memory operatorSetParams,
        uint96 minimumStake,
        StrategyParams[] memory strategyParams,
        uint32 lookAheadPeriod,
        address slasher
    ) external onlyOwner {
        uint8 quorumNumber = _newOperatorSetQuorum(operatorSetParams);
        require(lookAheadPeriod <= allocationManager.DEALLOCATION_DELAY(), LookAheadPeriodTooLong());
        stakeRegistry.initializeSlashableStakeQuorum(quorumNumber, minimumStake, lookAheadPeriod, strategyParams);
        _createOperatorSet(quorumNumber, strategyParams, slasher);
    }

    function _newQuorum(OperatorSetParam memory operatorSetParams) internal returns (uint8 quorumNumber) {
        quorumNumber = quorumCount;
        require(quorumNumber < MAX_QUORUM_COUNT, "RegistryCoordinator.createQuorum: max quorums reached");
        quorumCount = quorumNumber + 1;
        _quorumParams[quorumNumber] = operatorSetParams;
        emit OperatorSetParamsUpdated(quorumNumber, operatorSetParams);
        indexRegistry.initializeQuorum(quorumNumber);
        blsApkRegistry.initializeQuorum(quorumNumber);
    }

    function _newOperatorSetQuorum(OperatorSetParam memory operatorSetParams) internal returns (uint8) {
        require(address(allocationManager) != address(0), OperatorSetsNotEnabled());
        _beforeCreateQuorum();
        return _newQuorum(operatorSetParams);
    }

    /// @dev Before an operator-set quorum is created (the M2 form freezes its M2 quorums).
    function _beforeCreateQuorum() internal virtual {}

    function _createOperatorSet(uint8 quorumNumber, StrategyParams[] memory strategyParams, address slasher)
        internal
    {
        IStrategy[] memory strategies = new IStrategy[](strategyParams.length);
        for (uint256 i = 0; i < strategyParams.length; i++) {
            strategies[i] = strategyParams[i].strategy;
        }
        CreateSetParamsV2[] memory params = new CreateSetParamsV2[](1);
        params[0] = CreateSetParamsV2(quorumNumber, strategies, slasher);
        allocationManager.createOperatorSets(avs, params);
    }

    /// @notice The AllocationManager's callback when `operator` joins operator sets of `avs_`:
    /// `data` is abi.encode(RegistrationType.NORMAL, socket, PubkeyRegistrationParams).
    function registerOperator(
        address operator,
        address avs_,
        uint32[] calldata operatorSetIds,
        bytes calldata data
    ) external onlyAllocationManager {
        require(supportsAVS(avs_), InvalidAVS());
        (RegistrationType kind, string memory socket, PubkeyRegistrationParams memory params) =
            abi.decode(data, (RegistrationType, string, PubkeyRegistrationParams));
        require(kind == RegistrationType.NORMAL, InvalidRegistrationType());
        bytes32 operatorId = _getOrCreateOperatorId(operator, params);
        _registerOperator(operator, operatorId, _quorumNumbers(operatorSetIds), socket);
    }

    /// @notice The AllocationManager's callback when `operator` leaves operator sets of `avs_`.
    function deregisterOperator(address operator, address avs_, uint32[] calldata operatorSetIds)
        external
        onlyAllocationManager
    {
        require(supportsAVS(avs_), InvalidAVS());
        _deregisterOperator(operator, _quorumNumbers(operatorSetIds));
    }

    /// @notice Whether this contract is the registrar of `avs_`.
    function supportsAVS(address avs_) public view returns (bool) {
        return avs_ == avs;
    }

    /// @notice Re-read each registered operator's stake in every quorum it is in; one now below a
    /// quorum's minimum is removed from that quorum (from an operator-set quorum through the
    /// AllocationManager). Anyone may call it (stakes follow deposits and allocations only when
    /// someone does, as on EigenLayer).
    function updateOperators(address[] calldata operators) external {
        for (uint256 i = 0; i < operators.length; i++) {
            OperatorInfo memory info = _operatorInfo[operators[i]];
            if (info.status != OperatorStatus.REGISTERED) {
                continue;
            }
            bytes memory quorums = QuorumBitmaps.toBytes(getCurrentQuorumBitmap(info.operatorId));
            uint192 toRemove = stakeRegistry.updateOperatorStake(operators[i], info.operatorId, quorums);
            if (toRemove != 0) {
                _kick(operators[i], toRemove);
            }
        }
    }

    /// @dev Remove `operator` from the quorums in `bitmap`: from operator sets through the
    /// AllocationManager (which calls back `deregisterOperator`).
    function _kick(address operator, uint192 bitmap) internal virtual {
        bytes memory numbers = QuorumBitmaps.toBytes(bitmap);
        uint32[] memory ids = new uint32[](numbers.length);
        for (uint256 j = 0; j < numbers.length; j++) {
            ids[j] = uint8(numbers[j]);
        }
        allocationManager.deregisterFromOperatorSets(DeregisterParams(operator, avs, ids));
    }

    function _getOrCreateOperatorId(address operator, PubkeyRegistrationParams memory params)
        internal
        returns (bytes32 operatorId)
    {
        operatorId = blsApkRegistry.getOperatorId(operator);
        if (operatorId == bytes32(0)) {
            operatorId = blsApkRegistry.registerBLSPublicKey(
                operator, params, pubkeyRegistrationMessageHash(operator)
            );
        }
    }

    function _registerOperator(
        address operator,
        bytes32 operatorId,
        bytes memory quorumNumbers,
        string memory socket
    ) internal {
        uint192 toAdd = QuorumBitmaps.fromBytes(quorumNumbers, quorumCount);
        uint192 current = getCurrentQuorumBitmap(operatorId);
        require(
            current & toAdd == 0,
            "RegistryCoordinator._registerOperator: operator already registered for some quorums being registered for"
        );
        _recordBitmap(operatorId, current | toAdd);
        if (_operatorInfo[operator].status != OperatorStatus.REGISTERED) {
            _operatorInfo[operator] = OperatorInfo(operatorId, OperatorStatus.REGISTERED);
            emit OperatorRegistered(operator, operatorId);
        }
        _setSocket(operatorId, socket);
        blsApkRegistry.registerOperator(operator, quorumNumbers);
        stakeRegistry.registerOperator(operator, operatorId, quorumNumbers);
        uint32[] memory counts = indexRegistry.registerOperator(operatorId, quorumNumbers);
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            require(
                counts[i] <= _quorumParams[uint8(quorumNumbers[i])].maxOperatorCount,
                "RegistryCoordinator.registerOperator: operator count exceeds maximum"
            );
        }
    }

    function _deregisterOperator(address operator, bytes memory quorumNumbers) internal {
        OperatorInfo memory info = _operatorInfo[operator];
        require(
            info.status == OperatorStatus.REGISTERED,
            "RegistryCoordinator._deregisterOperator: operator is not registered"
        );
        uint192 toRemove = QuorumBitmaps.fromBytes(quorumNumbers, quorumCount);
        uint192 current = getCurrentQuorumBitmap(info.operatorId);
        require(
            current & toRemove == toRemove,
            "RegistryCoordinator._deregisterOperator: operator is not registered for specified quorums"
        );
        uint192 remaining = current & ~toRemove;
        _recordBitmap(info.operatorId, remaining);
        if (remaining == 0) {
            _operatorInfo[operator].status = OperatorStatus.DEREGISTERED;
            emit OperatorDeregistered(operator, info.operatorId);
        }
        blsApkRegistry.deregisterOperator(operator, quorumNumbers);
        stakeRegistry.deregisterOperator(info.operatorId, quorumNumbers);
        indexRegistry.deregisterOperator(info.operatorId, quorumNumbers);
        _afterDeregisterOperator(operator, remaining);
    }

    /// @dev After `operator` left quorums and is in `remaining` (the M2 form tells the AVS
    /// directory).
    function _afterDeregisterOperator(address operator, uint192 remaining) internal virtual {}

    /// @dev Operator set ids as quorum numbers (uint8, as EigenLayer's middleware truncates them).
    function _quorumNumbers(uint32[] calldata operatorSetIds) internal pure returns (bytes memory numbers) {
        numbers = new bytes(operatorSetIds.length);
        for (uint256 i = 0; i < operatorSetIds.length; i++) {
            numbers[i] = bytes1(uint8(operatorSetIds[i]));
        }
    }

    /// @notice Change the caller's socket.
    function updateSocket(string memory socket) external {
        require(
            _operatorInfo[msg.sender].status == OperatorStatus.REGISTERED,
            "RegistryCoordinator.updateSocket: operator is not registered"
        );
        _setSocket(_operatorInfo[msg.sender].operatorId, socket);
    }

    /// @dev The event is the socket's record on every release; the registry, where deployed,
    /// also answers it by operator id.
    function _setSocket(bytes32 operatorId, string memory socket) internal {
        if (address(socketRegistry) != address(0)) {
            socketRegistry.setOperatorSocket(operatorId, socket);
        }
        emit OperatorSocketUpdate(operatorId, socket);
    }

    /// @dev Append a bitmap to an operator's history; updates within one block collapse.
    function _recordBitmap(bytes32 operatorId, uint192 bitmap) internal {
        QuorumBitmapUpdate[] storage history = _operatorBitmapHistory[operatorId];
        if (history.length > 0) {
            QuorumBitmapUpdate storage last = history[history.length - 1];
            if (last.updateBlockNumber == uint32(block.number)) {
                last.quorumBitmap = bitmap;
                return;
            }
            last.nextUpdateBlockNumber = uint32(block.number);
        }
        history.push(QuorumBitmapUpdate(uint32(block.number), 0, bitmap));
    }

    /// @notice The G1 point an operator signs with its BLS key to prove possession of it.
    function pubkeyRegistrationMessageHash(address operator)
        public
        view
        returns (BN254.G1Point memory)
    {
        return BN254.hashToG1(calculatePubkeyRegistrationMessageHash(operator));
    }

    /// @notice The EIP-712 digest behind `pubkeyRegistrationMessageHash`.
    function calculatePubkeyRegistrationMessageHash(address operator) public view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH,
                keccak256("AVSRegistryCoordinator"),
                keccak256("v0.0.1"),
                block.chainid,
                address(this)
            )
        );
        bytes32 structHash = keccak256(abi.encode(PUBKEY_REGISTRATION_TYPEHASH, operator));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    /// @notice The parameters of a quorum.
    function getOperatorSetParams(uint8 quorumNumber) external view returns (OperatorSetParam memory) {
        return _quorumParams[quorumNumber];
    }

    /// @notice An operator's id and status.
    function getOperator(address operator) external view returns (OperatorInfo memory) {
        return _operatorInfo[operator];
    }

    /// @notice An operator's id (zero if it never registered).
    function getOperatorId(address operator) external view returns (bytes32) {
        return _operatorInfo[operator].operatorId;
    }

    /// @notice An operator's registration status.
    function getOperatorStatus(address operator) external view returns (OperatorStatus) {
        return _operatorInfo[operator].status;
    }

    /// @notice The operator address with this id (zero if none).
    function getOperatorFromId(bytes32 operatorId) external view returns (address) {
        return blsApkRegistry.getOperatorFromPubkeyHash(operatorId);
    }

    /// @notice The quorums an operator is registered in now, as a bitmap.
    function getCurrentQuorumBitmap(bytes32 operatorId) public view returns (uint192) {
        QuorumBitmapUpdate[] storage history = _operatorBitmapHistory[operatorId];
        return history.length == 0 ? 0 : history[history.length - 1].quorumBitmap;
    }

    /// @notice For each operator, the index of its quorum-bitmap entry in force at the end of
    /// `blockNumber`; reverts for an operator with no entry by then.
    function getQuorumBitmapIndicesAtBlockNumber(uint32 blockNumber, bytes32[] memory operatorIds)
        external
        view
        returns (uint32[] memory indices)
    {
        indices = new uint32[](operatorIds.length);
        for (uint256 j = 0; j < operatorIds.length; j++) {
            QuorumBitmapUpdate[] storage history = _operatorBitmapHistory[operatorIds[j]];
            uint256 i = history.length;
            while (i > 0 && history[i - 1].updateBlockNumber > blockNumber) {
                i--;
            }
            require(
                i > 0,
                "RegistryCoordinator.getQuorumBitmapIndexAtBlockNumber: no bitmap update found for operatorId at block number"
            );
            indices[j] = uint32(i - 1);
        }
    }

    /// @notice The quorums an operator was in at the end of `blockNumber`, from history entry
    /// `index`, which must be the one in force then.
    function getQuorumBitmapAtBlockNumberByIndex(bytes32 operatorId, uint32 blockNumber, uint256 index)
        external
        view
        returns (uint192)
    {
        QuorumBitmapUpdate memory update = _operatorBitmapHistory[operatorId][index];
        require(
            update.updateBlockNumber <= blockNumber,
            "RegistryCoordinator.getQuorumBitmapAtBlockNumberByIndex: quorumBitmapUpdate is from after blockNumber"
        );
        require(
            update.nextUpdateBlockNumber == 0 || update.nextUpdateBlockNumber > blockNumber,
            "RegistryCoordinator.getQuorumBitmapAtBlockNumberByIndex: quorumBitmapUpdate is from before blockNumber"
        );
        return update.quorumBitmap;
    }

    /// @notice The number of entries in an operator's quorum-bitmap history.
    function getQuorumBitmapHistoryLength(bytes32 operatorId) external view returns (uint256) {
        return _operatorBitmapHistory[operatorId].length;
    }

    /// @notice One entry of an operator's quorum-bitmap history.
    function getQuorumBitmapUpdateByIndex(bytes32 operatorId, uint256 index)
        external
        view
        returns (QuorumBitmapUpdate memory)
    {
        return _operatorBitmapHistory[operatorId][index];
    }
}
