// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {BN254} from "./BN254.sol";

/// @notice An operator's ECDSA signature over an EIP-712 digest, with its salt and expiry.
struct SignatureWithSaltAndExpiry {
    bytes signature;
    bytes32 salt;
    uint256 expiry;
}

/// @notice The BLS key material an operator registers: the proof of possession and both keys.
struct PubkeyRegistrationParams {
    BN254.G1Point pubkeyRegistrationSignature;
    BN254.G1Point pubkeyG1;
    BN254.G2Point pubkeyG2;
}

/// @notice Parameters of one quorum of operators.
struct OperatorSetParam {
    uint32 maxOperatorCount;
    uint16 kickBIPsOfOperatorStake;
    uint16 kickBIPsOfTotalStake;
}

/// @notice A strategy counted towards a quorum's stake, with its weight multiplier.
struct StrategyParams {
    IStrategy strategy;
    uint96 multiplier;
}

/// @notice An operator set: an AVS and an id it numbers its sets by (EigenLayer's OperatorSetLib).
struct OperatorSet {
    address avs;
    uint32 id;
}

/// @notice An operator set to create, its strategies, and who may slash it.
struct CreateSetParamsV2 {
    uint32 operatorSetId;
    IStrategy[] strategies;
    address slasher;
}

/// @notice Who leaves which of an AVS's operator sets.
struct DeregisterParams {
    address operator;
    address avs;
    uint32[] operatorSetIds;
}

/// @notice The ERC20 calls the strategies and the strategy manager make.
interface IERC20 {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @notice A strategy: holds one token and accounts for it in shares.
interface IStrategy {
    function deposit(IERC20 token, uint256 amount) external returns (uint256);
    function underlyingToken() external view returns (IERC20);
}

/// @notice What the DelegationManager reads from the strategy manager.
interface IStrategyManager {
    function getDeposits(address staker) external view returns (IStrategy[] memory, uint256[] memory);
}

/// @notice What the AVS directory, the strategy manager and the stake registry need from either
/// form of the DelegationManager.
interface IDelegationManager {
    function isOperator(address operator) external view returns (bool);
    function operatorShares(address operator, IStrategy strategy) external view returns (uint256);
    function increaseDelegatedShares(address staker, IStrategy strategy, uint256 shares) external;
}

/// @notice The current core's batch read of delegated shares (the AllocationManager uses it).
interface IDelegationSharesReader {
    function getOperatorsShares(address[] memory operators, IStrategy[] memory strategies)
        external
        view
        returns (uint256[][] memory);
}

/// @notice What the middleware and our DelegationManager call on the AllocationManager.
interface IAllocationManager {
    function setAllocationDelay(address operator, uint32 delay) external;
    function createOperatorSets(address avs, CreateSetParamsV2[] memory params) external;
    function deregisterFromOperatorSets(DeregisterParams calldata params) external;
    function getMinimumSlashableStake(
        OperatorSet memory operatorSet,
        address[] memory operators,
        IStrategy[] memory strategies,
        uint32 futureBlock
    ) external view returns (uint256[][] memory);
    // solhint-disable-next-line func-name-mixedcase
    function DEALLOCATION_DELAY() external view returns (uint32);
}

/// @notice The callbacks an AVS's registrar answers for the AllocationManager.
interface IAVSRegistrar {
    function registerOperator(
        address operator,
        address avs,
        uint32[] calldata operatorSetIds,
        bytes calldata data
    ) external;
    function deregisterOperator(address operator, address avs, uint32[] calldata operatorSetIds)
        external;
    function supportsAVS(address avs) external view returns (bool);
}

/// @notice Appointees: who may call which function on behalf of an account.
interface IPermissionController {
    function setAppointee(address account, address appointee, address target, bytes4 selector)
        external;
    function canCall(address account, address caller, address target, bytes4 selector)
        external
        view
        returns (bool);
}

interface IAVSDirectory {
    function registerOperatorToAVS(address operator, SignatureWithSaltAndExpiry memory sig) external;
    function deregisterOperatorFromAVS(address operator) external;
    function avsOperatorStatus(address avs, address operator) external view returns (uint8);
}

interface IServiceManager {
    function registerOperatorToAVS(address operator, SignatureWithSaltAndExpiry memory sig) external;
    function deregisterOperatorFromAVS(address operator) external;
}

interface IBLSApkRegistry {
    function registerBLSPublicKey(
        address operator,
        PubkeyRegistrationParams calldata params,
        BN254.G1Point calldata pubkeyRegistrationMessageHash
    ) external returns (bytes32);
    function registerOperator(address operator, bytes calldata quorumNumbers) external;
    function deregisterOperator(address operator, bytes calldata quorumNumbers) external;
    function initializeQuorum(uint8 quorumNumber) external;
    function getOperatorId(address operator) external view returns (bytes32);
    function getOperatorFromPubkeyHash(bytes32 pubkeyHash) external view returns (address);
    function getApkHashAtBlockNumberAndIndex(uint8 quorumNumber, uint32 blockNumber, uint256 index)
        external
        view
        returns (bytes24);
    function getApkIndicesAtBlockNumber(bytes calldata quorumNumbers, uint256 blockNumber)
        external
        view
        returns (uint32[] memory);
}

interface IStakeRegistry {
    function registerOperator(address operator, bytes32 operatorId, bytes calldata quorumNumbers)
        external
        returns (uint96[] memory, uint96[] memory);
    function deregisterOperator(bytes32 operatorId, bytes calldata quorumNumbers) external;
    function initializeQuorum(
        uint8 quorumNumber,
        uint96 minimumStake,
        StrategyParams[] memory strategyParams
    ) external;
    function initializeDelegatedStakeQuorum(
        uint8 quorumNumber,
        uint96 minimumStake,
        StrategyParams[] memory strategyParams
    ) external;
    function initializeSlashableStakeQuorum(
        uint8 quorumNumber,
        uint96 minimumStake,
        uint32 lookAheadPeriod,
        StrategyParams[] memory strategyParams
    ) external;
    function getStakeAtBlockNumber(bytes32 operatorId, uint8 quorumNumber, uint32 blockNumber)
        external
        view
        returns (uint96);
    function updateOperatorStake(address operator, bytes32 operatorId, bytes calldata quorumNumbers)
        external
        returns (uint192);
    function getStakeAtBlockNumberAndIndex(
        uint8 quorumNumber,
        uint32 blockNumber,
        bytes32 operatorId,
        uint256 index
    ) external view returns (uint96);
    function getTotalStakeAtBlockNumberFromIndex(uint8 quorumNumber, uint32 blockNumber, uint256 index)
        external
        view
        returns (uint96);
    function getStakeUpdateIndexAtBlockNumber(bytes32 operatorId, uint8 quorumNumber, uint32 blockNumber)
        external
        view
        returns (uint32);
    function getTotalStakeIndicesAtBlockNumber(uint32 blockNumber, bytes calldata quorumNumbers)
        external
        view
        returns (uint32[] memory);
}

interface IIndexRegistry {
    function registerOperator(bytes32 operatorId, bytes calldata quorumNumbers)
        external
        returns (uint32[] memory);
    function deregisterOperator(bytes32 operatorId, bytes calldata quorumNumbers) external;
    function initializeQuorum(uint8 quorumNumber) external;
    function getOperatorListAtBlockNumber(uint8 quorumNumber, uint32 blockNumber)
        external
        view
        returns (bytes32[] memory);
}

interface ISocketRegistry {
    function setOperatorSocket(bytes32 operatorId, string memory socket) external;
    function getOperatorSocket(bytes32 operatorId) external view returns (string memory);
}

interface IRegistryCoordinator {
    function owner() external view returns (address);
    function avs() external view returns (address);
    function quorumCount() external view returns (uint8);
    function getOperatorId(address operator) external view returns (bytes32);
    function getOperatorFromId(bytes32 operatorId) external view returns (address);
    function getCurrentQuorumBitmap(bytes32 operatorId) external view returns (uint192);
    function getQuorumBitmapAtBlockNumberByIndex(bytes32 operatorId, uint32 blockNumber, uint256 index)
        external
        view
        returns (uint192);
    function getQuorumBitmapIndicesAtBlockNumber(uint32 blockNumber, bytes32[] memory operatorIds)
        external
        view
        returns (uint32[] memory);
    function blsApkRegistry() external view returns (IBLSApkRegistry);
    function stakeRegistry() external view returns (IStakeRegistry);
    function indexRegistry() external view returns (IIndexRegistry);
}

/// @notice Quorum numbers are one byte each; the bitmap has bit q set for quorum q.
library QuorumBitmaps {
    /// @notice The bitmap of a strictly ascending list of quorum numbers below `quorumCount`.
    function fromBytes(bytes memory quorumNumbers, uint8 quorumCount)
        internal
        pure
        returns (uint192 bitmap)
    {
        require(quorumNumbers.length > 0, "QuorumBitmaps: no quorums given");
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            require(q < quorumCount, "QuorumBitmaps: quorum does not exist");
            uint192 bit = uint192(1) << q;
            require(bitmap < bit, "QuorumBitmaps: quorums not strictly ascending");
            bitmap |= bit;
        }
    }

    /// @notice The quorum numbers set in `bitmap`, ascending.
    function toBytes(uint192 bitmap) internal pure returns (bytes memory out) {
        out = new bytes(countOnes(bitmap));
        uint256 n = 0;
        for (uint256 q = 0; q < 192 && bitmap >> q != 0; q++) {
            if ((bitmap >> q) & 1 == 1) {
                out[n++] = bytes1(uint8(q));
            }
        }
    }

    /// @notice The number of quorums in `bitmap`.
    function countOnes(uint192 bitmap) internal pure returns (uint256 count) {
        while (bitmap != 0) {
            bitmap &= bitmap - 1;
            count++;
        }
    }
}
