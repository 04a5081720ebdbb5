"""Output for scripts and for people: ``--json``, the error document and the usage error.

With ``--json`` a command writes exactly one JSON document to stdout — its result, or
``{"error": <message>, "code": <exit code>}`` when it fails — and everything meant for a person
(progress, notes, the line saying what the deployment has) to stderr. The exit codes are the
same with or without it: 0 ok, 1 runtime failure, 2 usage or configuration error. The keys of
each command's document are listed in the README ("Scripting the CLI"); they are only ever
added to, never renamed.

Standard library only: the command modules import this to declare ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from operator_node.errors import OperatorNodeError


class UsageError(OperatorNodeError):
    """The command refuses how it was called (exit 2), e.g. ``deregister`` with no terminal to
    confirm on and no ``--yes``; the message says what to pass instead."""


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Declare ``--json`` on ``parser``."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout, errors included; messages go to stderr",
    )


def wants_json(args: argparse.Namespace) -> bool:
    """Whether the command was asked for ``--json``."""
    return bool(getattr(args, "json", False))


def human_stream(args: argparse.Namespace) -> TextIO:
    """Where lines meant for a person go: stdout, or stderr when stdout carries the JSON."""
    return sys.stderr if wants_json(args) else sys.stdout


def print_json(document: Mapping[str, Any]) -> None:
    """Write ``document`` to stdout as the command's one JSON document."""
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()


def print_error_json(message: str, code: int, **details: Any) -> None:
    """The JSON document of a failed command: its message, exit code and any ``details``."""
    print_json({"error": message, "code": code, **details})
