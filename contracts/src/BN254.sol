// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title BN254 (alt_bn128) arithmetic over the EIP-196/197 precompiles.
/// @notice G2 points use the EIP-197 layout: each coordinate is [imaginary, real].
library BN254 {
    /// @dev The base field prime p.
    uint256 internal constant FP_MODULUS =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @dev The group order r (the scalar field).
    uint256 internal constant FR_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev (p + 1) / 4: since p = 3 mod 4, b^((p+1)/4) is a square root of b when one exists.
    uint256 internal constant SQRT_EXPONENT =
        5472060717959818805561601436314318772174077789324455915672259473661306552146;

    struct G1Point {
        uint256 X;
        uint256 Y;
    }

    struct G2Point {
        uint256[2] X;
        uint256[2] Y;
    }

    /// @notice The generator of G1.
    function generatorG1() internal pure returns (G1Point memory) {
        return G1Point(1, 2);
    }

    /// @notice The negation of the generator of G2 (so one pairing product checks an equality).
    function negGeneratorG2() internal pure returns (G2Point memory) {
        return G2Point(
            [
                11559732032986387107991004021392285783925812861821192530917403151452391805634,
                10857046999023057135944570762232829481370756359578518086990519993285655852781
            ],
            [
                17805874995975841540914202342111839520379459829704422454583296818431106115052,
                13392588948715843804641432497768002650278120570034223513918757245338268106653
            ]
        );
    }

    /// @notice -p, with the point at infinity (0, 0) mapped to itself.
    function negate(G1Point memory p) internal pure returns (G1Point memory) {
        if (p.X == 0 && p.Y == 0) {
            return G1Point(0, 0);
        }
        return G1Point(p.X, FP_MODULUS - (p.Y % FP_MODULUS));
    }

    /// @notice p1 + p2 with the ecAdd precompile (0x06); reverts on points not on the curve.
    function plus(G1Point memory p1, G1Point memory p2) internal view returns (G1Point memory r) {
        uint256[4] memory input = [p1.X, p1.Y, p2.X, p2.Y];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x06, input, 0x80, r, 0x40)
        }
        require(ok, "BN254.plus: ecAdd failed");
    }

    /// @notice s * p with the ecMul precompile (0x07); reverts on points not on the curve.
    function scalarMul(G1Point memory p, uint256 s) internal view returns (G1Point memory r) {
        uint256[3] memory input = [p.X, p.Y, s];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, r, 0x40)
        }
        require(ok, "BN254.scalarMul: ecMul failed");
    }

    /// @notice Whether e(a1, a2) * e(b1, b2) == 1, with the ecPairing precompile (0x08).
    /// @return success false when the precompile rejected its input (a point off the curve)
    /// @return valid the result of the pairing product check
    function safePairing(G1Point memory a1, G2Point memory a2, G1Point memory b1, G2Point memory b2)
        internal
        view
        returns (bool success, bool valid)
    {
        uint256[12] memory input = [
            a1.X, a1.Y, a2.X[0], a2.X[1], a2.Y[0], a2.Y[1],
            b1.X, b1.Y, b2.X[0], b2.X[1], b2.Y[0], b2.Y[1]
        ];
        uint256[1] memory out;
        assembly ("memory-safe") {
            success := staticcall(gas(), 0x08, input, 0x180, out, 0x20)
        }
        valid = success && out[0] == 1;
    }

    /// @notice keccak256(X || Y): the hash EigenLayer keys public keys and aggregates by.
    function hashG1Point(G1Point memory p) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(p.X, p.Y));
    }

    /// @notice Map a 32-byte digest to G1 by try-and-increment (x = digest mod p, then x + 1, ...).
    function hashToG1(bytes32 digest) internal view returns (G1Point memory) {
        uint256 x = uint256(digest) % FP_MODULUS;
        while (true) {
            uint256 beta = addmod(mulmod(mulmod(x, x, FP_MODULUS), x, FP_MODULUS), 3, FP_MODULUS);
            uint256 y = expMod(beta, SQRT_EXPONENT, FP_MODULUS);
            if (mulmod(y, y, FP_MODULUS) == beta) {
                return G1Point(x, y);
            }
            x = addmod(x, 1, FP_MODULUS);
        }
        revert("BN254.hashToG1: unreachable");
    }

    /// @notice base^exponent mod modulus with the modexp precompile (0x05).
    function expMod(uint256 base, uint256 exponent, uint256 modulus)
        internal
        view
        returns (uint256 result)
    {
        uint256[6] memory input = [32, 32, 32, base, exponent, modulus];
        uint256[1] memory out;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x05, input, 0xc0, out, 0x20)
        }
        require(ok, "BN254.expMod: modexp failed");
        result = out[0];
    }
}
