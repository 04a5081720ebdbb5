// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {BN254} from "./BN254.sol";
import {
    IAVSDirectory,
    IBLSApkRegistry,
    IRegistryCoordinator,
    IStakeRegistry,
    QuorumBitmaps,
    SignatureWithSaltAndExpiry
} from "./Interfaces.sol";

/// @title The DA AVS's service manager: operator registration hook and batch confirmation.
/// @notice confirmBatch accepts a batch when the operators who signed its reduced header hold at
/// least the batch's threshold percentage of each quorum's stake at the reference block,
/// checked with one aggregate BLS signature (EigenLayer's BLSSignatureChecker equation).
contract ServiceManager {
    using BN254 for BN254.G1Point;

    struct BatchHeader {
        bytes32 blobHeadersRoot;
        bytes quorumNumbers;
        bytes signedStakeForQuorums;
        uint32 referenceBlockNumber;
    }

    struct ReducedBatchHeader {
        bytes32 blobHeadersRoot;
        uint32 referenceBlockNumber;
    }

    struct NonSignerStakesAndSignature {
        uint32[] nonSignerQuorumBitmapIndices;
        BN254.G1Point[] nonSignerPubkeys;
        BN254.G1Point[] quorumApks;
        BN254.G2Point apkG2;
        BN254.G1Point sigma;
        uint32[] quorumApkIndices;
        uint32[] totalStakeIndices;
        uint32[][] nonSignerStakeIndices;
    }

    struct QuorumStakeTotals {
        uint96[] signedStakeForQuorum;
        uint96[] totalStakeForQuorum;
    }

    uint256 public constant THRESHOLD_DENOMINATOR = 100;
    /// @notice How many blocks old a batch's reference block may be (as EigenDA).
    uint32 public constant BLOCK_STALE_MEASURE = 150;

    address public owner;
    IAVSDirectory public immutable avsDirectory;
    IRegistryCoordinator public immutable registryCoordinator;
    IStakeRegistry public immutable stakeRegistry;
    IBLSApkRegistry public immutable blsApkRegistry;

    uint32 public batchId;
    mapping(uint32 batchId => bytes32) public batchIdToBatchMetadataHash;
    mapping(address disperser => bool) public isDisperser;

    event BatchConfirmed(bytes32 indexed batchHeaderHash, uint32 batchId);
    event DisperserStatusChanged(address indexed disperser, bool allowed);

    modifier onlyRegistryCoordinator() {
        require(
            msg.sender == address(registryCoordinator),
            "ServiceManager.onlyRegistryCoordinator: caller is not the registry coordinator"
        );
        _;
    }

    constructor(
        address initialOwner,
        IAVSDirectory directory,
        IRegistryCoordinator coordinator,
        IStakeRegistry stakes,
        IBLSApkRegistry keys
    ) {
        owner = initialOwner;
        avsDirectory = directory;
        registryCoordinator = coordinator;
        stakeRegistry = stakes;
        blsApkRegistry = keys;
    }

    /// @notice Allow or disallow a disperser to push chunks to operators and confirm batches.
    function setDisperser(address disperser, bool allowed) external {
        require(msg.sender == owner, "ServiceManager.setDisperser: caller is not the owner");
        isDisperser[disperser] = allowed;
        emit DisperserStatusChanged(disperser, allowed);
    }

    /// @notice Forward an operator's registration to the AVS directory (registry coordinator only).
    function registerOperatorToAVS(address operator, SignatureWithSaltAndExpiry memory sig)
        external
        onlyRegistryCoordinator
    {
        avsDirectory.registerOperatorToAVS(operator, sig);
    }

    /// @notice Forward an operator's deregistration to the AVS directory.
    function deregisterOperatorFromAVS(address operator) external onlyRegistryCoordinator {
        avsDirectory.deregisterOperatorFromAVS(operator);
    }

    /// @notice Confirm a batch signed by enough stake of every quorum it names.
    function confirmBatch(
        BatchHeader calldata batchHeader,
        NonSignerStakesAndSignature memory nonSignerStakesAndSignature
    ) external {
        require(isDisperser[msg.sender], "ServiceManager.confirmBatch: caller is not a disperser");
        require(
            tx.origin == msg.sender,
            "ServiceManager.confirmBatch: header and nonsigner data must be in calldata"
        );
        uint32 rbn = batchHeader.referenceBlockNumber;
        require(rbn < block.number, "ServiceManager.confirmBatch: specified referenceBlockNumber is in future");
        require(
            rbn + BLOCK_STALE_MEASURE >= block.number,
            "ServiceManager.confirmBatch: specified referenceBlockNumber is too far in past"
        );
        require(
            batchHeader.quorumNumbers.length == batchHeader.signedStakeForQuorums.length,
            "ServiceManager.confirmBatch: quorumNumbers and signedStakeForQuorums must be same length"
        );
        bytes32 reducedHash = keccak256(abi.encode(ReducedBatchHeader(batchHeader.blobHeadersRoot, rbn)));
        (QuorumStakeTotals memory totals, bytes32 signatoryRecordHash) =
            checkSignatures(reducedHash, batchHeader.quorumNumbers, rbn, nonSignerStakesAndSignature);
        for (uint256 i = 0; i < totals.signedStakeForQuorum.length; i++) {
            require(
                uint256(totals.signedStakeForQuorum[i]) * THRESHOLD_DENOMINATOR
                    >= uint256(totals.totalStakeForQuorum[i]) * uint8(batchHeader.signedStakeForQuorums[i]),
                "ServiceManager.confirmBatch: signatories do not own at least threshold percentage of a quorum"
            );
        }
        uint32 id = batchId;
        batchIdToBatchMetadataHash[id] = keccak256(
            abi.encodePacked(keccak256(abi.encode(batchHeader)), signatoryRecordHash, uint32(block.number))
        );
        emit BatchConfirmed(reducedHash, id);
        batchId = id + 1;
    }

    /// @notice Check an aggregate signature over `msgHash` by the quorums' operators minus the
    /// non-signers, at `referenceBlockNumber`; return signed and total stake per quorum.
    /// @dev The index hints of NonSignerStakesAndSignature are accepted for ABI compatibility but
    /// not needed: the registries search their histories by block number themselves.
    function checkSignatures(
        bytes32 msgHash,
        bytes calldata quorumNumbers,
        uint32 referenceBlockNumber,
        NonSignerStakesAndSignature memory params
    ) public view returns (QuorumStakeTotals memory totals, bytes32 signatoryRecordHash) {
        require(
            quorumNumbers.length > 0 && params.quorumApks.length == quorumNumbers.length,
            "BLSSignatureChecker.checkSignatures: input quorum length mismatch"
        );
        require(referenceBlockNumber < block.number, "BLSSignatureChecker.checkSignatures: invalid reference block");
        uint192 signingBitmap =
            QuorumBitmaps.fromBytes(quorumNumbers, registryCoordinator.quorumCount());
        (BN254.G1Point memory apk, bytes32[] memory nonSignerIds, uint192[] memory bitmaps) =
            _nonSignerSum(params.nonSignerPubkeys, signingBitmap, referenceBlockNumber);
        apk = apk.negate();
        totals.signedStakeForQuorum = new uint96[](quorumNumbers.length);
        totals.totalStakeForQuorum = new uint96[](quorumNumbers.length);
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            require(
                bytes24(BN254.hashG1Point(params.quorumApks[i]))
                    == blsApkRegistry.getApkHashAtBlockNumber(q, referenceBlockNumber),
                "BLSSignatureChecker.checkSignatures: quorumApk hash in storage does not match provided quorum apk"
            );
            apk = apk.plus(params.quorumApks[i]);
            (totals.signedStakeForQuorum[i], totals.totalStakeForQuorum[i]) =
                _quorumStakes(q, referenceBlockNumber, nonSignerIds, bitmaps);
        }
        (bool pairingSuccessful, bool signatureIsValid) =
            trySignatureAndApkVerification(msgHash, apk, params.apkG2, params.sigma);
        require(pairingSuccessful, "BLSSignatureChecker.checkSignatures: pairing precompile call failed");
        require(signatureIsValid, "BLSSignatureChecker.checkSignatures: signature is invalid");
        signatoryRecordHash = keccak256(abi.encodePacked(referenceBlockNumber, nonSignerIds));
    }

    /// @dev Sum of the non-signers' keys, each counted once per signing quorum it was in.
    function _nonSignerSum(BN254.G1Point[] memory pubkeys, uint192 signingBitmap, uint32 rbn)
        internal
        view
        returns (BN254.G1Point memory sum, bytes32[] memory ids, uint192[] memory bitmaps)
    {
        ids = new bytes32[](pubkeys.length);
        bitmaps = new uint192[](pubkeys.length);
        for (uint256 j = 0; j < pubkeys.length; j++) {
            ids[j] = BN254.hashG1Point(pubkeys[j]);
            require(
                j == 0 || uint256(ids[j]) > uint256(ids[j - 1]),
                "BLSSignatureChecker.checkSignatures: nonSignerPubkeys not sorted"
            );
            bitmaps[j] = registryCoordinator.getQuorumBitmapAtBlockNumber(ids[j], rbn);
            uint256 times = QuorumBitmaps.countOnes(bitmaps[j] & signingBitmap);
            sum = sum.plus(pubkeys[j].scalarMul(times));
        }
    }

    /// @dev A quorum's total stake at the block and the part of it held by signers.
    function _quorumStakes(uint8 q, uint32 rbn, bytes32[] memory nonSignerIds, uint192[] memory bitmaps)
        internal
        view
        returns (uint96 signed, uint96 total)
    {
        total = stakeRegistry.getTotalStakeAtBlockNumber(q, rbn);
        signed = total;
        for (uint256 j = 0; j < nonSignerIds.length; j++) {
            if ((bitmaps[j] >> q) & 1 == 1) {
                signed -= stakeRegistry.getStakeAtBlockNumber(nonSignerIds[j], q, rbn);
            }
        }
    }

    /// @notice Whether sigma is apkG2's signature on msgHash and apk matches apkG2.
    /// @dev e(sigma + gamma*apk, -G2) * e(H(m) + gamma*G1, apkG2) == 1, gamma binding all inputs.
    function trySignatureAndApkVerification(
        bytes32 msgHash,
        BN254.G1Point memory apk,
        BN254.G2Point memory apkG2,
        BN254.G1Point memory sigma
    ) public view returns (bool pairingSuccessful, bool siganatureIsValid) {
        uint256 gamma = uint256(
            keccak256(
                abi.encodePacked(
                    msgHash, apk.X, apk.Y, apkG2.X[0], apkG2.X[1], apkG2.Y[0], apkG2.Y[1], sigma.X, sigma.Y
                )
            )
        ) % BN254.FR_MODULUS;
        return BN254.safePairing(
            sigma.plus(apk.scalarMul(gamma)),
            BN254.negGeneratorG2(),
            BN254.hashToG1(msgHash).plus(BN254.generatorG1().scalarMul(gamma)),
            apkG2
        );
    }
}
