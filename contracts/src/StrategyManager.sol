// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IDelegationManager, IERC20, IStrategy} from "./Interfaces.sol";

/// @title EigenLayer's StrategyManager: deposits into whitelisted strategies, credited to the
/// depositor's operator. Withdrawals are not modelled.
contract StrategyManager {
    address public immutable owner;
    IDelegationManager public immutable delegation;

    mapping(IStrategy strategy => bool) public strategyIsWhitelistedForDeposit;
    mapping(address staker => mapping(IStrategy strategy => uint256)) public stakerStrategyShares;
    mapping(address staker => IStrategy[]) internal _stakerStrategyList;

    event Deposit(address staker, IERC20 token, IStrategy strategy, uint256 shares);
    event StrategyAddedToDepositWhitelist(IStrategy strategy);

    constructor(address initialOwner, IDelegationManager delegationManager) {
        owner = initialOwner;
        delegation = delegationManager;
    }

    /// @notice Allow deposits into `strategies` (the owner only).
    function addStrategiesToDepositWhitelist(IStrategy[] calldata strategies) external {
        require(msg.sender == owner, "StrategyManager.addStrategiesToDepositWhitelist: caller is not the owner");
        for (uint256 i = 0; i < strategies.length; i++) {
            if (!strategyIsWhitelistedForDeposit[strategies[i]]) {
                strategyIsWhitelistedForDeposit[strategies[i]] = true;
                emit StrategyAddedToDepositWhitelist(strategies[i]);
            }
        }
    }

    /// @notice Deposit `amount` of `token` (approved to this contract) into `strategy`.
    function depositIntoStrategy(IStrategy strategy, IERC20 token, uint256 amount)
        external
        returns (uint256 shares)
    {
        require(
            strategyIsWhitelistedForDeposit[strategy],
            "StrategyManager.onlyStrategiesWhitelistedForDeposit: strategy not whitelisted"
        );
        require(
            token.transferFrom(msg.sender, address(strategy), amount),
            "StrategyManager.depositIntoStrategy: token transfer failed"
        );
        shares = strategy.deposit(token, amount);
        if (stakerStrategyShares[msg.sender][strategy] == 0) {
            _stakerStrategyList[msg.sender].push(strategy);
        }
        stakerStrategyShares[msg.sender][strategy] += shares;
        delegation.increaseDelegatedShares(msg.sender, strategy, shares);
        emit Deposit(msg.sender, token, strategy, shares);
    }

    /// @notice The strategies `staker` holds shares in, and how many.
    function getDeposits(address staker)
        external
        view
        returns (IStrategy[] memory strategies, uint256[] memory shares)
    {
        strategies = _stakerStrategyList[staker];
        shares = new uint256[](strategies.length);
        for (uint256 i = 0; i < strategies.length; i++) {
            shares[i] = stakerStrategyShares[staker][strategies[i]];
        }
    }
}
