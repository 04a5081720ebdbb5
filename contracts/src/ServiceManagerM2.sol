// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ServiceManagerCore} from "./ServiceManagerCore.sol";
import {IAVSDirectory, IBLSApkRegistry, IRegistryCoordinator, IStakeRegistry} from "./Interfaces.sol";

/// @title The DA AVS's service manager in EigenDA's M2 shape: batch confirmers instead of a
/// disperser allow-list. It has no `isDisperser`, as EigenLayer's ServiceManagerBase has none.
contract ServiceManagerM2 is ServiceManagerCore {
    mapping(address confirmer => bool) public isBatchConfirmer;

    event BatchConfirmerStatusChanged(address batchConfirmer, bool status);

    constructor(
        address initialOwner,
        IAVSDirectory directory,
        IRegistryCoordinator coordinator,
        IStakeRegistry stakes,
        IBLSApkRegistry keys
    ) ServiceManagerCore(initialOwner, directory, coordinator, stakes, keys) {}

    /// @notice Flip whether `confirmer` may confirm batches (the owner only).
    function setBatchConfirmer(address confirmer) external {
        require(msg.sender == owner, "Ownable: caller is not the owner");
        isBatchConfirmer[confirmer] = !isBatchConfirmer[confirmer];
        emit BatchConfirmerStatusChanged(confirmer, isBatchConfirmer[confirmer]);
    }

    function _checkConfirmer(address caller) internal view override {
        require(isBatchConfirmer[caller], "onlyBatchConfirmer: not from batch confirmer");
    }
}
