"""What ``operator-node config check`` and ``config show`` do (arguments in ``cli.config_cmd``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from operator_node.cli.config_files import check_key_files
from operator_node.cli.output import print_error_json, print_json, wants_json
from operator_node.cli.redact import redact_url
from operator_node.config import ENV_PREFIX, Config, load_config
from operator_node.errors import ConfigError

EXIT_INVALID = 2


def check(args: argparse.Namespace) -> int:
    """Load ``--config`` exactly as ``run`` would, check the key files it names, and report;
    returns 0 when all is well, 2 with every problem on its own line otherwise."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _report_invalid(args, _problem_lines(exc), [])
    report = check_key_files(config)
    if report.problems:
        return _report_invalid(args, report.problems, report.notes)
    if wants_json(args):
        print_json(
            {"valid": True, "config": str(args.config), "problems": [], "notes": report.notes}
        )
        return 0
    print(
        f"{args.config}: configuration is valid (node {config.node.name!r}, "
        f"api {config.api.host}:{config.api.port}, data_dir {config.node.data_dir})"
    )
    for note in report.notes:
        print(f"  {note}")
    return 0


def _problem_lines(exc: ConfigError) -> list[str]:
    """The problems a ConfigError lists, one per line (its heading left out)."""
    lines = [line.strip() for line in str(exc).splitlines()]
    return [line for line in lines if line and line != "invalid configuration:"]


def _report_invalid(args: argparse.Namespace, problems: list[str], notes: list[str]) -> int:
    heading = f"{args.config}: {len(problems)} problem{'s' if len(problems) > 1 else ''}"
    print(heading + ":", file=sys.stderr)
    for line in problems:
        print(f"  {line}", file=sys.stderr)
    if wants_json(args):
        print_error_json(
            heading, EXIT_INVALID, valid=False, config=str(args.config), problems=problems,
            notes=notes,
        )  # fmt: skip
    return EXIT_INVALID


def show(args: argparse.Namespace) -> int:
    """Print the effective configuration, credentials in URLs redacted; returns 0.

    Raises ConfigError (exit 2) when the configuration is invalid: what would not run is not
    shown as if it would.
    """
    config = load_config(args.config)
    sections = effective_sections(config)
    if wants_json(args):
        print_json(sections)
        return 0
    sources = _sources(args.config, os.environ)
    print(f"# effective configuration of {args.config}: file, {ENV_PREFIX}* and defaults")
    print("# credentials in URLs are REDACTED; keys without a value are commented out")
    for name, section in sections.items():
        print(f"\n[{name}]")
        for key, value in section.items():
            origin = sources.get((name, key), "default")
            if value is None:
                print(f"# {key} = (not set)")
            else:
                comment = "" if origin == "file" else f"  # {origin}"
                print(f"{key} = {_toml_value(value)}{comment}")
    return 0


def effective_sections(config: Config) -> dict[str, dict[str, Any]]:
    """Every section and key of ``config`` as plain JSON/TOML values, URLs redacted; a key
    without a value (an optional path) is None."""
    return {
        section.name: {
            key.name: _plain(getattr(getattr(config, section.name), key.name))
            for key in dataclasses.fields(getattr(config, section.name))
        }
        for section in dataclasses.fields(config)
    }


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _sources(path: Path, environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(section, key) → "file", or the environment variable that overrides it."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    sources = {
        (name, key): "file"
        for name, table in raw.items()
        if isinstance(table, dict)
        for key in table
    }
    for var in environ:
        parts = var.removeprefix(ENV_PREFIX).lower().split("__")
        if var.startswith(ENV_PREFIX) and len(parts) == 2:
            sources[(parts[0], parts[1])] = f"from {var}"
    return sources


def _toml_value(value: Any) -> str:
    """A TOML literal: JSON's string escapes, numbers, booleans and arrays are TOML's too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):  # JSON has no inf or nan
        return str(value)
    return json.dumps(value)
