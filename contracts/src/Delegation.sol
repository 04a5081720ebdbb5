// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IStrategy, IStrategyManager} from "./Interfaces.sol";

/// @title Shares delegated to operators: the part of EigenLayer's DelegationManager that an
/// AVS's stake is computed from. Both core forms inherit it; they differ only in how an operator
/// registers.
/// @notice A staker's deposits count for the operator it is delegated to. An operator is
/// delegated to itself when it registers, and its deposits made before then move with it.
/// Withdrawals, undelegation and delegation approvers are not modelled.
abstract contract Delegation {
    address internal immutable _deployer;

    IStrategyManager public strategyManager;
    mapping(address staker => address operator) public delegatedTo;
    mapping(address operator => mapping(IStrategy strategy => uint256)) public operatorShares;
    mapping(address operator => bool) internal _isOperator;

    event StakerDelegated(address indexed staker, address indexed operator);
    event OperatorSharesIncreased(
        address indexed operator, address staker, IStrategy strategy, uint256 shares
    );

    constructor() {
        _deployer = msg.sender;
    }

    /// @notice Name the strategy manager once (it is deployed after this contract).
    function initialize(IStrategyManager manager) external {
        require(msg.sender == _deployer, "DelegationManager.initialize: caller is not the deployer");
        require(
            address(strategyManager) == address(0),
            "DelegationManager.initialize: already initialized"
        );
        strategyManager = manager;
    }

    /// @notice Credit new shares of `staker` to the operator it is delegated to, if any.
    function increaseDelegatedShares(address staker, IStrategy strategy, uint256 shares) external {
        require(
            msg.sender == address(strategyManager),
            "DelegationManager.onlyStrategyManager: caller is not the StrategyManager"
        );
        address operator = delegatedTo[staker];
        if (operator != address(0)) {
            operatorShares[operator][strategy] += shares;
            emit OperatorSharesIncreased(operator, staker, strategy, shares);
        }
    }

    /// @notice Whether `operator` registered as an operator.
    function isOperator(address operator) public view returns (bool) {
        return _isOperator[operator];
    }

    /// @notice Whether `staker` is delegated to an operator.
    function isDelegated(address staker) public view returns (bool) {
        return delegatedTo[staker] != address(0);
    }

    /// @notice The shares delegated to `operator` in each of `strategies`.
    function getOperatorShares(address operator, IStrategy[] memory strategies)
        external
        view
        returns (uint256[] memory shares)
    {
        shares = new uint256[](strategies.length);
        for (uint256 i = 0; i < strategies.length; i++) {
            shares[i] = operatorShares[operator][strategies[i]];
        }
    }

    /// @dev Make `operator` an operator delegated to itself, with the shares it already holds.
    function _registerOperator(address operator) internal {
        require(
            !isDelegated(operator),
            "DelegationManager.registerAsOperator: caller is already actively delegated"
        );
        _isOperator[operator] = true;
        delegatedTo[operator] = operator;
        emit StakerDelegated(operator, operator);
        if (address(strategyManager) == address(0)) {
            return;
        }
        (IStrategy[] memory strategies, uint256[] memory shares) = strategyManager.getDeposits(operator);
        for (uint256 i = 0; i < strategies.length; i++) {
            operatorShares[operator][strategies[i]] += shares[i];
            emit OperatorSharesIncreased(operator, operator, strategies[i], shares[i]);
        }
    }
}
