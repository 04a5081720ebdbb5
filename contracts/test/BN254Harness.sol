// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {BN254} from "../src/BN254.sol";
import {BLSApkRegistry} from "../src/BLSApkRegistry.sol";
import {PubkeyRegistrationParams} from "../src/Interfaces.sol";

/// @title Test-only: exposes the BN254 library and BLSApkRegistry's proof-of-possession check so
/// known-answer vectors can be checked against the code the contracts actually run.
contract BN254Harness is BLSApkRegistry {
    using BN254 for BN254.G1Point;

    constructor() BLSApkRegistry(address(0)) {}

    function hashToG1(bytes32 digest) external view returns (BN254.G1Point memory) {
        return BN254.hashToG1(digest);
    }

    function scalarMulG1(uint256 scalar) external view returns (BN254.G1Point memory) {
        return BN254.generatorG1().scalarMul(scalar);
    }

    /// @notice e(signature, -G2) * e(hashToG1(message), pubkeyG2) == 1
    function verifySignature(
        bytes32 message,
        BN254.G1Point memory signature,
        BN254.G2Point memory pubkeyG2
    ) external view returns (bool) {
        (bool success, bool valid) = BN254.safePairing(
            signature, BN254.negGeneratorG2(), BN254.hashToG1(message), pubkeyG2
        );
        return success && valid;
    }

    function checkPossession(
        PubkeyRegistrationParams calldata params,
        BN254.G1Point calldata messagePoint
    ) external view returns (bool) {
        return _checkPossession(params, messagePoint);
    }
}
