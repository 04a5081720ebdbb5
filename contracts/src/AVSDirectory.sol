// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IDelegationManager, SignatureWithSaltAndExpiry} from "./Interfaces.sol";

/// @title Which operators are registered to which AVS, with EIP-712 operator consent.
contract AVSDirectory {
    enum OperatorAVSRegistrationStatus {
        UNREGISTERED,
        REGISTERED
    }

    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)");
    bytes32 public constant OPERATOR_AVS_REGISTRATION_TYPEHASH = keccak256(
        "OperatorAVSRegistration(address operator,address avs,bytes32 salt,uint256 expiry)"
    );
    /// @dev Signatures with s above half the curve order are malleable copies; refuse them.
    uint256 internal constant SECP256K1_HALF_N =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    IDelegationManager public immutable delegation;

    mapping(address avs => mapping(address operator => OperatorAVSRegistrationStatus)) public
        avsOperatorStatus;
    mapping(address operator => mapping(bytes32 salt => bool)) public operatorSaltIsSpent;

    event OperatorAVSRegistrationStatusUpdated(
        address indexed operator, address indexed avs, OperatorAVSRegistrationStatus status
    );
    event AVSMetadataURIUpdated(address indexed avs, string metadataURI);

    constructor(IDelegationManager delegationManager) {
        delegation = delegationManager;
    }

    /// @notice Called by an AVS (msg.sender) to register `operator`, who consented by signing.
    function registerOperatorToAVS(address operator, SignatureWithSaltAndExpiry memory sig) external {
        require(
            sig.expiry >= block.timestamp,
            "AVSDirectory.registerOperatorToAVS: operator signature expired"
        );
        require(
            avsOperatorStatus[msg.sender][operator] != OperatorAVSRegistrationStatus.REGISTERED,
            "AVSDirectory.registerOperatorToAVS: operator already registered"
        );
        require(
            !operatorSaltIsSpent[operator][sig.salt],
            "AVSDirectory.registerOperatorToAVS: salt already spent"
        );
        require(
            delegation.isOperator(operator),
            "AVSDirectory.registerOperatorToAVS: operator not registered to EigenLayer yet"
        );
        bytes32 digest =
            calculateOperatorAVSRegistrationDigestHash(operator, msg.sender, sig.salt, sig.expiry);
        require(
            _recover(digest, sig.signature) == operator,
            "AVSDirectory.registerOperatorToAVS: signature not from operator"
        );
        operatorSaltIsSpent[operator][sig.salt] = true;
        avsOperatorStatus[msg.sender][operator] = OperatorAVSRegistrationStatus.REGISTERED;
        emit OperatorAVSRegistrationStatusUpdated(
            operator, msg.sender, OperatorAVSRegistrationStatus.REGISTERED
        );
    }

    /// @notice Called by an AVS (msg.sender) to deregister `operator`.
    function deregisterOperatorFromAVS(address operator) external {
        require(
            avsOperatorStatus[msg.sender][operator] == OperatorAVSRegistrationStatus.REGISTERED,
            "AVSDirectory.deregisterOperatorFromAVS: operator not registered"
        );
        avsOperatorStatus[msg.sender][operator] = OperatorAVSRegistrationStatus.UNREGISTERED;
        emit OperatorAVSRegistrationStatusUpdated(
            operator, msg.sender, OperatorAVSRegistrationStatus.UNREGISTERED
        );
    }

    /// @notice Announce the calling AVS's metadata URI.
    function updateAVSMetadataURI(string calldata metadataURI) external {
        emit AVSMetadataURIUpdated(msg.sender, metadataURI);
    }

    /// @notice The EIP-712 digest an operator signs to consent to registering with `avs`.
    function calculateOperatorAVSRegistrationDigestHash(
        address operator,
        address avs,
        bytes32 salt,
        uint256 expiry
    ) public view returns (bytes32) {
        bytes32 structHash =
            keccak256(abi.encode(OPERATOR_AVS_REGISTRATION_TYPEHASH, operator, avs, salt, expiry));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// @notice The EIP-712 domain separator (name "EigenLayer", this chain, this contract).
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256(bytes("EigenLayer")), block.chainid, address(this))
        );
    }

    /// @dev The signer of a 65-byte r || s || v signature, or address(0) when it is malformed.
    function _recover(bytes32 digest, bytes memory signature) internal pure returns (address) {
        if (signature.length != 65) {
            return address(0);
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(signature, 0x20))
            s := mload(add(signature, 0x40))
            v := byte(0, mload(add(signature, 0x60)))
        }
        if (uint256(s) > SECP256K1_HALF_N || (v != 27 && v != 28)) {
            return address(0);
        }
        return ecrecover(digest, v, r, s);
    }
}
