"""Handlers that import their command's code only when that command runs.

The command modules (``run``, ``keys``, ...) declare their arguments with the standard library
alone and point each subcommand at a ``LazyHandler``. The code that does the work, and with it
web3, eth_account, aiohttp, py_ecc and lmdb, lives in the ``*_impl`` modules, so ``--help``,
``version`` and a usage error never pay for loading them.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


class LazyHandler:
    """The handler ``function`` of ``module``, imported the first time it is called.

    ``module`` is a full dotted name. A wrong name is a programming error; the test suite resolves
    every registered handler so it fails there rather than in a user's hands. (A plain class, not
    a dataclass: importing ``dataclasses`` would cost every command a few milliseconds.)
    """

    __slots__ = ("function", "module")

    def __init__(self, module: str, function: str) -> None:
        self.module = module
        self.function = function

    def __repr__(self) -> str:
        return f"LazyHandler({self.module!r}, {self.function!r})"

    def resolve(self) -> Handler:
        """Import ``module`` and return its ``function``; ImportError/AttributeError if absent."""
        target: Handler = getattr(importlib.import_module(self.module), self.function)
        return target

    def __call__(self, args: argparse.Namespace) -> int:
        """Run the command: import its module, call the function with ``args``, return its code."""
        return self.resolve()(args)
