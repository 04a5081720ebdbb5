"""The CLI starts light: building the parser, ``--help`` and ``version`` load no heavy library.

Each case runs in a fresh interpreter (the venv's), because this process has long since imported
everything. Nothing is timed: what is checked is which modules got imported.
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys

import pytest

from operator_node.cli import build_parser
from operator_node.cli.lazy import LazyHandler

# Each of these costs tens to hundreds of milliseconds to import, and none is needed to parse.
HEAVY = ("web3", "eth_account", "eth_keyfile", "eth_keys", "aiohttp", "py_ecc", "lmdb")

# Runs ``main(argv)`` as the console script would, then reports what was imported.
_PROBE = """
import json, sys
from operator_node.cli import main
try:
    code = main(json.loads(sys.argv[1]))
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _modules_after(argv: list[str] | None) -> tuple[object, set[str]]:
    """(exit code, imported module names) of a fresh interpreter that ran ``main(argv)``."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    return report["code"], set(report["modules"])


def _modules_of(code: str) -> set[str]:
    """The names in ``sys.modules`` printed as JSON by ``code`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    return set(json.loads(result.stdout))


def _top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for sub in subs for child in sub.choices.values() for leaf in _leaf_parsers(child)]


@pytest.mark.parametrize(
    ("argv", "want_code"),
    [
        (["--help"], 0),
        (["version"], 0),
        (["keys", "create", "--help"], 0),
        (["register", "--help"], 0),
        (["disperse", "--help"], 0),
        (["run", "--help"], 0),
        (["devnet", "--help"], 0),
        (["no-such-command"], 2),
    ],
)
def test_cli_startup_loads_no_heavy_library(argv: list[str], want_code: int) -> None:
    code, modules = _modules_after(argv)
    assert code == want_code
    assert sorted(_top_level(modules) & set(HEAVY)) == []


def test_cli_startup_parser_needs_only_the_standard_library() -> None:
    # Building the parser touches nothing outside the standard library and our own package, so a
    # new third-party import at the top of a command module fails here. What the interpreter
    # loads before running any code (site hooks of installed packages) is the baseline.
    report = "import json, sys\nprint(json.dumps(sorted(sys.modules)))"
    build = "from operator_node.cli import build_parser\nbuild_parser()\n"
    baseline, after = (_modules_of(code) for code in (report, build + report))
    foreign = _top_level(after - baseline) - set(sys.stdlib_module_names)
    assert sorted(foreign) == ["operator_node"]
    # Of our own package, only the command modules: no ``*_impl`` module, nothing outside cli/.
    ours = {m for m in after if m.partition(".")[0] == "operator_node"}
    beyond = {m for m in ours if not m.startswith("operator_node.cli") or m.endswith("_impl")}
    assert sorted(beyond) == ["operator_node", "operator_node.errors"]


def test_cli_startup_every_handler_resolves() -> None:
    # Lazy handlers name their module and function as strings; import each one here so a typo
    # fails this test instead of a user's command.
    leaves = _leaf_parsers(build_parser())
    lazy = [leaf.get_default("handler") for leaf in leaves]
    lazy = [handler for handler in lazy if isinstance(handler, LazyHandler)]
    assert len(leaves) >= 13 and len(lazy) >= 11
    for leaf in leaves:
        handler = leaf.get_default("handler")
        target = handler.resolve() if isinstance(handler, LazyHandler) else handler
        assert callable(target), leaf.prog
        assert list(inspect.signature(target).parameters) == ["args"], leaf.prog


def test_cli_startup_lazy_handler_names_a_missing_function() -> None:
    handler = LazyHandler("operator_node.cli.keys_impl", "no_such_handler")
    with pytest.raises(AttributeError):
        handler(argparse.Namespace())
