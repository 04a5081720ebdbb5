// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {BN254} from "./BN254.sol";
import {PubkeyRegistrationParams} from "./Interfaces.sol";

/// @title Operators' BLS public keys and each quorum's aggregate public key, with history.
contract BLSApkRegistry {
    using BN254 for BN254.G1Point;

    struct ApkUpdate {
        bytes24 apkHash;
        uint32 updateBlockNumber;
        uint32 nextUpdateBlockNumber;
    }

    /// @dev keccak256 of the zero point (0, 0): no operator may register it.
    bytes32 internal constant ZERO_PK_HASH =
        hex"ad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5";

    address public immutable registryCoordinator;

    mapping(address operator => bytes32) public operatorToPubkeyHash;
    mapping(bytes32 pubkeyHash => address) public pubkeyHashToOperator;
    mapping(address operator => BN254.G1Point) public operatorToPubkey;
    mapping(uint8 quorumNumber => ApkUpdate[]) public apkHistory;
    mapping(uint8 quorumNumber => BN254.G1Point) public currentApk;

    event NewPubkeyRegistration(
        address indexed operator, BN254.G1Point pubkeyG1, BN254.G2Point pubkeyG2
    );
    event OperatorAddedToQuorums(address operator, bytes32 operatorId, bytes quorumNumbers);
    event OperatorRemovedFromQuorums(address operator, bytes32 operatorId, bytes quorumNumbers);

    modifier onlyRegistryCoordinator() {
        require(
            msg.sender == registryCoordinator,
            "BLSApkRegistry.onlyRegistryCoordinator: caller is not the registry coordinator"
        );
        _;
    }

    constructor(address coordinator) {
        registryCoordinator = coordinator;
    }

    /// @notice Record `operator`'s key after checking its proof of possession with a pairing.
    /// @dev Accept iff e(sigma + gamma*P1, -G2) * e(H + gamma*G1, P2) == 1, where gamma binds
    /// every input, so the G1 and G2 keys share one secret and the operator holds it.
    function registerBLSPublicKey(
        address operator,
        PubkeyRegistrationParams calldata params,
        BN254.G1Point calldata pubkeyRegistrationMessageHash
    ) external onlyRegistryCoordinator returns (bytes32 operatorId) {
        bytes32 pubkeyHash = BN254.hashG1Point(params.pubkeyG1);
        require(pubkeyHash != ZERO_PK_HASH, "BLSApkRegistry.registerBLSPublicKey: cannot register zero pubkey");
        require(
            operatorToPubkeyHash[operator] == bytes32(0),
            "BLSApkRegistry.registerBLSPublicKey: operator already registered pubkey"
        );
        require(
            pubkeyHashToOperator[pubkeyHash] == address(0),
            "BLSApkRegistry.registerBLSPublicKey: public key already registered"
        );
        require(
            _checkPossession(params, pubkeyRegistrationMessageHash),
            "BLSApkRegistry.registerBLSPublicKey: either the G1 signature is wrong, or G1 and G2 private key do not match"
        );
        operatorToPubkey[operator] = params.pubkeyG1;
        operatorToPubkeyHash[operator] = pubkeyHash;
        pubkeyHashToOperator[pubkeyHash] = operator;
        emit NewPubkeyRegistration(operator, params.pubkeyG1, params.pubkeyG2);
        return pubkeyHash;
    }

    function _checkPossession(PubkeyRegistrationParams calldata params, BN254.G1Point calldata h)
        internal
        view
        returns (bool)
    {
        BN254.G1Point memory sig = params.pubkeyRegistrationSignature;
        BN254.G1Point memory pk = params.pubkeyG1;
        BN254.G2Point memory pk2 = params.pubkeyG2;
        uint256 gamma = uint256(
            keccak256(abi.encodePacked(sig.X, sig.Y, pk.X, pk.Y, pk2.X, pk2.Y, h.X, h.Y))
        ) % BN254.FR_MODULUS;
        (bool success, bool valid) = BN254.safePairing(
            sig.plus(pk.scalarMul(gamma)),
            BN254.negGeneratorG2(),
            BN254.G1Point(h.X, h.Y).plus(BN254.generatorG1().scalarMul(gamma)),
            pk2
        );
        return success && valid;
    }

    /// @notice Add `operator`'s key to the aggregate key of each quorum in `quorumNumbers`.
    function registerOperator(address operator, bytes calldata quorumNumbers)
        external
        onlyRegistryCoordinator
    {
        (BN254.G1Point memory pk, bytes32 operatorId) = getRegisteredPubkey(operator);
        _updateApks(quorumNumbers, pk);
        emit OperatorAddedToQuorums(operator, operatorId, quorumNumbers);
    }

    /// @notice Remove `operator`'s key from the aggregate key of each quorum in `quorumNumbers`.
    function deregisterOperator(address operator, bytes calldata quorumNumbers)
        external
        onlyRegistryCoordinator
    {
        (BN254.G1Point memory pk, bytes32 operatorId) = getRegisteredPubkey(operator);
        _updateApks(quorumNumbers, pk.negate());
        emit OperatorRemovedFromQuorums(operator, operatorId, quorumNumbers);
    }

    /// @notice Start the aggregate-key history of a new quorum at the zero point.
    /// @dev The empty aggregate is hashed like any other, so an emptied quorum matches it too.
    function initializeQuorum(uint8 quorumNumber) external onlyRegistryCoordinator {
        require(apkHistory[quorumNumber].length == 0, "BLSApkRegistry.initializeQuorum: quorum already exists");
        apkHistory[quorumNumber].push(ApkUpdate(bytes24(ZERO_PK_HASH), uint32(block.number), 0));
    }

    function _updateApks(bytes calldata quorumNumbers, BN254.G1Point memory delta) internal {
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            ApkUpdate[] storage history = apkHistory[q];
            require(history.length > 0, "BLSApkRegistry._updateApks: quorum does not exist");
            BN254.G1Point memory apk = currentApk[q].plus(delta);
            currentApk[q] = apk;
            bytes24 apkHash = bytes24(BN254.hashG1Point(apk));
            ApkUpdate storage last = history[history.length - 1];
            // Several updates in one block collapse into one entry: history is by block.
            if (last.updateBlockNumber == uint32(block.number)) {
                last.apkHash = apkHash;
            } else {
                last.nextUpdateBlockNumber = uint32(block.number);
                history.push(ApkUpdate(apkHash, uint32(block.number), 0));
            }
        }
    }

    /// @notice The key `operator` registered and its id (keccak256 of the G1 key).
    function getRegisteredPubkey(address operator)
        public
        view
        returns (BN254.G1Point memory, bytes32)
    {
        bytes32 pubkeyHash = operatorToPubkeyHash[operator];
        require(pubkeyHash != bytes32(0), "BLSApkRegistry.getRegisteredPubkey: operator is not registered");
        return (operatorToPubkey[operator], pubkeyHash);
    }

    /// @notice The current aggregate public key of a quorum.
    function getApk(uint8 quorumNumber) external view returns (BN254.G1Point memory) {
        return currentApk[quorumNumber];
    }

    /// @notice The number of entries in a quorum's aggregate-key history.
    function getApkHistoryLength(uint8 quorumNumber) external view returns (uint32) {
        return uint32(apkHistory[quorumNumber].length);
    }

    /// @notice One entry of a quorum's aggregate-key history.
    function getApkUpdateAtIndex(uint8 quorumNumber, uint256 index)
        external
        view
        returns (ApkUpdate memory)
    {
        return apkHistory[quorumNumber][index];
    }

    /// @notice For each quorum, the index of its aggregate-key entry in force at the end of
    /// `blockNumber`; reverts for a quorum created after it.
    function getApkIndicesAtBlockNumber(bytes calldata quorumNumbers, uint256 blockNumber)
        external
        view
        returns (uint32[] memory indices)
    {
        indices = new uint32[](quorumNumbers.length);
        for (uint256 j = 0; j < quorumNumbers.length; j++) {
            ApkUpdate[] storage history = apkHistory[uint8(quorumNumbers[j])];
            uint256 i = history.length;
            while (i > 0 && history[i - 1].updateBlockNumber > blockNumber) {
                i--;
            }
            require(i > 0, "BLSApkRegistry.getApkIndicesAtBlockNumber: blockNumber is before the first update");
            indices[j] = uint32(i - 1);
        }
    }

    /// @notice The (24-byte) hash of a quorum's aggregate key at the end of `blockNumber`, from
    /// history entry `index`, which must be the one in force then.
    function getApkHashAtBlockNumberAndIndex(uint8 quorumNumber, uint32 blockNumber, uint256 index)
        external
        view
        returns (bytes24)
    {
        ApkUpdate memory update = apkHistory[quorumNumber][index];
        require(
            blockNumber >= update.updateBlockNumber,
            "BLSApkRegistry._validateApkHashAtBlockNumber: index too recent"
        );
        require(
            update.nextUpdateBlockNumber == 0 || blockNumber < update.nextUpdateBlockNumber,
            "BLSApkRegistry._validateApkHashAtBlockNumber: not latest apk update"
        );
        return update.apkHash;
    }

    /// @notice The operator whose G1 key hashes to `pubkeyHash` (zero if none).
    function getOperatorFromPubkeyHash(bytes32 pubkeyHash) external view returns (address) {
        return pubkeyHashToOperator[pubkeyHash];
    }

    /// @notice The operator id of `operator` (zero if it never registered a key).
    function getOperatorId(address operator) external view returns (bytes32) {
        return operatorToPubkeyHash[operator];
    }
}
