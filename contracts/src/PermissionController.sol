// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title EigenLayer's PermissionController, reduced to appointees: an account lets another
/// address call one function of one contract on its behalf.
/// @notice As on EigenLayer, an account without admins is its own only admin, and may always call
/// for itself. Admins (adding, accepting, removing) are not modelled: every account here is
/// administered by itself.
contract PermissionController {
    mapping(address account => mapping(address appointee => mapping(address target => mapping(bytes4 selector => bool))))
        internal _appointed;

    event AppointeeSet(address indexed account, address indexed appointee, address target, bytes4 selector);
    event AppointeeRemoved(address indexed account, address indexed appointee, address target, bytes4 selector);

    error NotAdmin();
    error AppointeeAlreadySet();
    error AppointeeNotSet();

    /// @notice Let `appointee` call `selector` on `target` for `account` (the account itself).
    function setAppointee(address account, address appointee, address target, bytes4 selector) external {
        require(msg.sender == account, NotAdmin());
        require(!_appointed[account][appointee][target][selector], AppointeeAlreadySet());
        _appointed[account][appointee][target][selector] = true;
        emit AppointeeSet(account, appointee, target, selector);
    }

    /// @notice Take back what `setAppointee` gave.
    function removeAppointee(address account, address appointee, address target, bytes4 selector) external {
        require(msg.sender == account, NotAdmin());
        require(_appointed[account][appointee][target][selector], AppointeeNotSet());
        _appointed[account][appointee][target][selector] = false;
        emit AppointeeRemoved(account, appointee, target, selector);
    }

    /// @notice Whether `caller` may call `selector` on `target` for `account`.
    function canCall(address account, address caller, address target, bytes4 selector)
        external
        view
        returns (bool)
    {
        return caller == account || _appointed[account][caller][target][selector];
    }
}
