// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRegistryCoordinator, IStakeRegistry, QuorumBitmaps} from "./Interfaces.sol";

/// @title Read-only helper: the operators of quorums at a block, in one call.
contract OperatorStateRetriever {
    struct Operator {
        address operator;
        bytes32 operatorId;
        uint96 stake;
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
        uint192 bitmap = registryCoordinator.getQuorumBitmapAtBlockNumber(operatorId, blockNumber);
        bytes memory quorumNumbers = QuorumBitmaps.toBytes(bitmap);
        return (bitmap, getOperatorState(registryCoordinator, quorumNumbers, blockNumber));
    }
}
