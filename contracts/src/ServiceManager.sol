// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ServiceManagerCore} from "./ServiceManagerCore.sol";
import {IAVSDirectory, IBLSApkRegistry, IRegistryCoordinator, IStakeRegistry} from "./Interfaces.sol";

/// @title The DA AVS's service manager, with an on-chain disperser allow-list: allowed dispersers
/// push chunks to operators (nodes may check `isDisperser`) and confirm batches.
/// @notice `isDisperser` is this AVS's own function, not EigenLayer's: a node must probe for it.
contract ServiceManager is ServiceManagerCore {
    mapping(address disperser => bool) public isDisperser;
    /// @notice Where accounts' reservations and on-demand deposits are (zero: none).
    address public paymentVault;

    event DisperserStatusChanged(address indexed disperser, bool allowed);
    event PaymentVaultSet(address paymentVault);

    constructor(
        address initialOwner,
        IAVSDirectory directory,
        IRegistryCoordinator coordinator,
        IStakeRegistry stakes,
        IBLSApkRegistry keys
    ) ServiceManagerCore(initialOwner, directory, coordinator, stakes, keys) {}

    /// @notice Allow or disallow a disperser to push chunks to operators and confirm batches.
    function setDisperser(address disperser, bool allowed) external {
        require(msg.sender == owner, "ServiceManager.setDisperser: caller is not the owner");
        isDisperser[disperser] = allowed;
        emit DisperserStatusChanged(disperser, allowed);
    }

    /// @notice Name the AVS's payment vault (the owner).
    function setPaymentVault(address vault) external onlyOwner {
        paymentVault = vault;
        emit PaymentVaultSet(vault);
    }

    function _checkConfirmer(address caller) internal view override {
        require(isDisperser[caller], "ServiceManager.confirmBatch: caller is not a disperser");
    }
}
