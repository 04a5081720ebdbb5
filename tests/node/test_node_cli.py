"""The command line as a user meets it: help everywhere, versions, exit codes for misuse."""

from __future__ import annotations

import argparse

from support.daemon import run_cli

from operator_node import __version__
from operator_node.cli import build_parser


def _command_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


def test_cli_help_works_for_every_command() -> None:
    paths = _command_paths(build_parser())
    assert ("run",) in paths and ("config", "check") in paths and ("version",) in paths
    for path in paths:
        result = run_cli(*path, "--help")
        assert result.returncode == 0, (path, result.stderr)
        assert "usage: operator-node" in result.stdout


def test_cli_version_prints_version() -> None:
    result = run_cli("version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"operator-node {__version__}")
    flag = run_cli("--version")  # what scripts and package managers try first
    assert flag.returncode == 0
    assert flag.stdout.strip() == f"operator-node {__version__}"


def test_cli_usage_errors_exit_2() -> None:
    assert run_cli().returncode == 2
    assert run_cli("no-such-command").returncode == 2
    result = run_cli("run")
    assert result.returncode == 2
    assert "--config" in result.stderr
