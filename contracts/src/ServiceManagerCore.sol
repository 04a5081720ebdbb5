// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {BN254} from "./BN254.sol";
import {
    IAllocationManager,
    IAVSDirectory,
    IAVSRegistrar,
    IBLSApkRegistry,
    IPermissionController,
    IRegistryCoordinator,
    IStakeRegistry,
    QuorumBitmaps,
    SignatureWithSaltAndExpiry
} from "./Interfaces.sol";

/// @title What every form of the DA AVS's service manager shares: the operator registration hook
/// and batch confirmation. The forms differ in who may confirm.
/// @notice confirmBatch accepts a batch when the operators who signed its reduced header hold at
/// least the batch's threshold percentage of each quorum's stake at the reference block,
/// checked with one aggregate BLS signature as EigenLayer's BLSSignatureChecker does, index
/// hints included: each hint must point at the history entry in force at the reference block
/// (get them from OperatorStateRetriever.getCheckSignaturesIndices).
/// @notice The AllocationManager's AVS set-up calls.
interface IAllocationManagerSetup {
    function updateAVSMetadataURI(address avs, string calldata metadataURI) external;
    function setAVSRegistrar(address avs, IAVSRegistrar registrar) external;
}

abstract contract ServiceManagerCore {
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

    /// @notice Set by `setUpOperatorSets`; zero on a deployment without operator sets.
    IAllocationManager public allocationManager;
    IPermissionController public permissionController;

    uint32 public batchId;
    mapping(uint32 batchId => bytes32) public batchIdToBatchMetadataHash;

    event BatchConfirmed(bytes32 indexed batchHeaderHash, uint32 batchId);

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

    modifier onlyOwner() {
        require(msg.sender == owner, "ServiceManager: caller is not the owner");
        _;
    }

    /// @notice Make this AVS an operator-set AVS once (the owner): announce its metadata to the
    /// AllocationManager, name the registry coordinator its registrar, and appoint the coordinator
    /// to create operator sets (both overloads) and remove operators from them — the set-up
    /// EigenLayer's middleware needs, without which quorum creation and kicks revert.
    function setUpOperatorSets(
        IAllocationManager allocations,
        IPermissionController permissions,
        string calldata metadataURI
    ) external onlyOwner {
        require(
            address(allocationManager) == address(0),
            "ServiceManager.setUpOperatorSets: already set up"
        );
        allocationManager = allocations;
        permissionController = permissions;
        address coordinator = address(registryCoordinator);
        _appoint(coordinator, bytes4(keccak256("createOperatorSets(address,(uint32,address[],address)[])")));
        _appoint(coordinator, bytes4(keccak256("createOperatorSets(address,(uint32,address[])[])")));
        _appoint(coordinator, bytes4(keccak256("deregisterFromOperatorSets((address,address,uint32[]))")));
        IAllocationManagerSetup(address(allocations)).updateAVSMetadataURI(address(this), metadataURI);
        IAllocationManagerSetup(address(allocations)).setAVSRegistrar(
            address(this), IAVSRegistrar(coordinator)
        );
    }

    /// @notice Let `appointee` call `selector` on `target` for this AVS (the owner), as
    /// EigenLayer's ServiceManagerBase.setAppointee.
    function setAppointee(address appointee, address target, bytes4 selector) external onlyOwner {
        permissionController.setAppointee(address(this), appointee, target, selector);
    }

    function _appoint(address appointee, bytes4 selector) internal {
        permissionController.setAppointee(address(this), appointee, address(allocationManager), selector);
    }

    /// @dev Revert unless `caller` may confirm batches.
    function _checkConfirmer(address caller) internal view virtual;

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
        _checkConfirmer(msg.sender);
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
    function checkSignatures(
        bytes32 msgHash,
        bytes calldata quorumNumbers,
        uint32 referenceBlockNumber,
        NonSignerStakesAndSignature memory params
    ) public view returns (QuorumStakeTotals memory totals, bytes32 signatoryRecordHash) {
        require(quorumNumbers.length != 0, "BLSSignatureChecker.checkSignatures: empty quorum input");
        require(
            quorumNumbers.length == params.quorumApks.length
                && quorumNumbers.length == params.quorumApkIndices.length
                && quorumNumbers.length == params.totalStakeIndices.length
                && quorumNumbers.length == params.nonSignerStakeIndices.length,
            "BLSSignatureChecker.checkSignatures: input quorum length mismatch"
        );
        require(
            params.nonSignerPubkeys.length == params.nonSignerQuorumBitmapIndices.length,
            "BLSSignatureChecker.checkSignatures: input nonsigner length mismatch"
        );
        require(referenceBlockNumber < block.number, "BLSSignatureChecker.checkSignatures: invalid reference block");
        uint192 signingBitmap =
            QuorumBitmaps.fromBytes(quorumNumbers, registryCoordinator.quorumCount());
        (BN254.G1Point memory apk, bytes32[] memory nonSignerIds, uint192[] memory bitmaps) =
            _nonSignerSum(params, signingBitmap, referenceBlockNumber);
        apk = apk.negate();
        totals.signedStakeForQuorum = new uint96[](quorumNumbers.length);
        totals.totalStakeForQuorum = new uint96[](quorumNumbers.length);
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            require(
                bytes24(BN254.hashG1Point(params.quorumApks[i]))
                    == blsApkRegistry.getApkHashAtBlockNumberAndIndex(
                        q, referenceBlockNumber, params.quorumApkIndices[i]
                    ),
                "BLSSignatureChecker.checkSignatures: quorumApk hash in storage does not match provided quorum apk"
            );
            apk = apk.plus(params.quorumApks[i]);
            (totals.signedStakeForQuorum[i], totals.totalStakeForQuorum[i]) =
                _quorumStakes(q, i, referenceBlockNumber, params, nonSignerIds, bitmaps);
        }
        (bool pairingSuccessful, bool signatureIsValid) =
            trySignatureAndApkVerification(msgHash, apk, params.apkG2, params.sigma);
        require(pairingSuccessful, "BLSSignatureChecker.checkSignatures: pairing precompile call failed");
        require(signatureIsValid, "BLSSignatureChecker.checkSignatures: signature is invalid");
        signatoryRecordHash = keccak256(abi.encodePacked(referenceBlockNumber, nonSignerIds));
    }

    /// @dev Sum of the non-signers' keys, each counted once per signing quorum it was in; their
    /// quorum bitmaps are read at the hinted history entries.
    function _nonSignerSum(NonSignerStakesAndSignature memory params, uint192 signingBitmap, uint32 rbn)
        internal
        view
        returns (BN254.G1Point memory sum, bytes32[] memory ids, uint192[] memory bitmaps)
    {
        BN254.G1Point[] memory pubkeys = params.nonSignerPubkeys;
        ids = new bytes32[](pubkeys.length);
        bitmaps = new uint192[](pubkeys.length);
        for (uint256 j = 0; j < pubkeys.length; j++) {
            ids[j] = BN254.hashG1Point(pubkeys[j]);
            require(
                j == 0 || uint256(ids[j]) > uint256(ids[j - 1]),
                "BLSSignatureChecker.checkSignatures: nonSignerPubkeys not sorted"
            );
            bitmaps[j] = registryCoordinator.getQuorumBitmapAtBlockNumberByIndex(
                ids[j], rbn, params.nonSignerQuorumBitmapIndices[j]
            );
            uint256 times = QuorumBitmaps.countOnes(bitmaps[j] & signingBitmap);
            sum = sum.plus(pubkeys[j].scalarMul(times));
        }
    }

    /// @dev Quorum `q`'s (the `i`-th signed) total stake at the block, and the part of it held by
    /// signers; `params.nonSignerStakeIndices[i]` lists the hints of the non-signers in `q`.
    function _quorumStakes(
        uint8 q,
        uint256 i,
        uint32 rbn,
        NonSignerStakesAndSignature memory params,
        bytes32[] memory nonSignerIds,
        uint192[] memory bitmaps
    ) internal view returns (uint96 signed, uint96 total) {
        total = stakeRegistry.getTotalStakeAtBlockNumberFromIndex(q, rbn, params.totalStakeIndices[i]);
        signed = total;
        uint256 n = 0;
        for (uint256 j = 0; j < nonSignerIds.length; j++) {
            if ((bitmaps[j] >> q) & 1 == 1) {
                signed -= stakeRegistry.getStakeAtBlockNumberAndIndex(
                    q, rbn, nonSignerIds[j], params.nonSignerStakeIndices[i][n]
                );
                n++;
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
