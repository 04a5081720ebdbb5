// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRegistryCoordinator, IStakeRegistry, QuorumBitmaps} from "./Interfaces.sol";

/// @title Read-only helper: the operators of quorums at a block, and the history indices a
/// signature check at a block needs, each in one call.
contract OperatorStateRetriever {
    struct Operator {
        address operator;
        bytes32 operatorId;
        uint96 stake;
    }

    /// @notice Where, in each history, the entry in force at the reference block sits.
    struct CheckSignaturesIndices {
        uint32[] nonSignerQuorumBitmapIndices;
        uint32[] quorumApkIndices;
        uint32[] totalStakeIndices;
        uint32[][] nonSignerStakeIndices;
    }

    /// @notice For each quorum, its operators (address, id, stake) at the end of `blockNumber`.
    function getOperatorState(
        IRegistryCoordinator registryCoordinator,
        bytes memory quorumNumbers,
        uint32 blockNumber
    ) public view returns (Operator[][] memory state) {
        IStakeRegistry stakes = registryCoordinator.stakeRegistry();
        state = new Operator[][](quorumNumbers.length);
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            bytes32[] memory ids =
                registryCoordinator.indexRegistry().getOperatorListAtBlockNumber(q, blockNumber);
            state[i] = new Operator[](ids.length);
            for (uint256 j = 0; j < ids.length; j++) {
                state[i][j] = Operator(
                    registryCoordinator.getOperatorFromId(ids[j]),
                    ids[j],
                    stakes.getStakeAtBlockNumber(ids[j], q, blockNumber)
                );
            }
        }
    }

    /// @notice The quorums an operator was in at `blockNumber` (bitmap) and their operators.
    function getOperatorState(
        IRegistryCoordinator registryCoordinator,
        bytes32 operatorId,
        uint32 blockNumber
    ) external view returns (uint256, Operator[][] memory) {
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = operatorId;
        uint32 index = registryCoordinator.getQuorumBitmapIndicesAtBlockNumber(blockNumber, ids)[0];
        uint192 bitmap =
            registryCoordinator.getQuorumBitmapAtBlockNumberByIndex(operatorId, blockNumber, index);
        bytes memory quorumNumbers = QuorumBitmaps.toBytes(bitmap);
        return (bitmap, getOperatorState(registryCoordinator, quorumNumbers, blockNumber));
    }

    /// @notice The index hints for checking, at `referenceBlockNumber`, a signature over
    /// `quorumNumbers` that `nonSignerOperatorIds` did not sign. `nonSignerStakeIndices[i]` lists,
    /// in the order given, the non-signers that were in quorum i then.
    function getCheckSignaturesIndices(
        IRegistryCoordinator registryCoordinator,
        uint32 referenceBlockNumber,
        bytes calldata quorumNumbers,
        bytes32[] calldata nonSignerOperatorIds
    ) external view returns (CheckSignaturesIndices memory indices) {
        IStakeRegistry stakes = registryCoordinator.stakeRegistry();
        indices.nonSignerQuorumBitmapIndices = registryCoordinator
            .getQuorumBitmapIndicesAtBlockNumber(referenceBlockNumber, nonSignerOperatorIds);
        indices.totalStakeIndices =
            stakes.getTotalStakeIndicesAtBlockNumber(referenceBlockNumber, quorumNumbers);
        indices.quorumApkIndices = registryCoordinator.blsApkRegistry()
            .getApkIndicesAtBlockNumber(quorumNumbers, referenceBlockNumber);
        uint192[] memory bitmaps = new uint192[](nonSignerOperatorIds.length);
        for (uint256 j = 0; j < nonSignerOperatorIds.length; j++) {
            bitmaps[j] = registryCoordinator.getQuorumBitmapAtBlockNumberByIndex(
                nonSignerOperatorIds[j], referenceBlockNumber, indices.nonSignerQuorumBitmapIndices[j]
            );
            require(
                bitmaps[j] != 0,
                "OperatorStateRetriever.getCheckSignaturesIndices: operator must be registered at blocknumber"
            );
        }
        indices.nonSignerStakeIndices =
            _nonSignerStakeIndices(stakes, referenceBlockNumber, quorumNumbers, nonSignerOperatorIds, bitmaps);
    }

    /// @dev For each quorum, the stake-history indices of the non-signers that were in it.
    function _nonSignerStakeIndices(
        IStakeRegistry stakes,
        uint32 referenceBlockNumber,
        bytes calldata quorumNumbers,
        bytes32[] calldata nonSignerOperatorIds,
        uint192[] memory bitmaps
    ) internal view returns (uint32[][] memory lists) {
        lists = new uint32[][](quorumNumbers.length);
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint8 q = uint8(quorumNumbers[i]);
            uint32[] memory list = new uint32[](nonSignerOperatorIds.length);
            uint256 n = 0;
            for (uint256 j = 0; j < nonSignerOperatorIds.length; j++) {
                if ((bitmaps[j] >> q) & 1 == 1) {
                    list[n++] =
                        stakes.getStakeUpdateIndexAtBlockNumber(nonSignerOperatorIds[j], q, referenceBlockNumber);
                }
            }
            assembly ("memory-safe") {
                mstore(list, n)
            }
            lists[i] = list;
        }
    }
}
