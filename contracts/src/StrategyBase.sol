// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "./Interfaces.sol";

/// @title EigenLayer's basic strategy: holds one token and issues shares for deposits.
/// @notice Shares are priced with EigenLayer's virtual offsets (1e3 shares and 1e3 tokens), so
/// the first deposits get one share per token unit and no depositor can inflate the price.
/// Withdrawals are not modelled.
contract StrategyBase {
    uint256 internal constant SHARES_OFFSET = 1e3;
    uint256 internal constant BALANCE_OFFSET = 1e3;

    address public immutable strategyManager;
    IERC20 public immutable underlyingToken;
    uint256 public totalShares;

    constructor(address manager, IERC20 token) {
        strategyManager = manager;
        underlyingToken = token;
    }

    /// @notice Issue shares for `amount` tokens the strategy manager has just transferred in.
    function deposit(IERC20 token, uint256 amount) external returns (uint256 newShares) {
        require(msg.sender == strategyManager, "StrategyBase.onlyStrategyManager");
        require(token == underlyingToken, "StrategyBase.deposit: Can only deposit underlyingToken");
        uint256 priorTotalShares = totalShares;
        uint256 virtualShareAmount = priorTotalShares + SHARES_OFFSET;
        uint256 virtualTokenBalance = underlyingToken.balanceOf(address(this)) + BALANCE_OFFSET;
        // The tokens arrived before this call: price the shares on the balance before them.
        uint256 virtualPriorTokenBalance = virtualTokenBalance - amount;
        newShares = (amount * virtualShareAmount) / virtualPriorTokenBalance;
        require(newShares != 0, "StrategyBase.deposit: newShares cannot be zero");
        totalShares = priorTotalShares + newShares;
    }

    /// @notice The tokens `amountShares` shares are worth now.
    function sharesToUnderlyingView(uint256 amountShares) external view returns (uint256) {
        uint256 virtualTotalShares = totalShares + SHARES_OFFSET;
        uint256 virtualTokenBalance = underlyingToken.balanceOf(address(this)) + BALANCE_OFFSET;
        return (virtualTokenBalance * amountShares) / virtualTotalShares;
    }
}
